/*
 * Shared libraries that only some runs need, opened on first use instead of at exec:
 * libmicrohttpd (the metrics listener), librte_pdump (DPDK ports) and librte_bpf (the
 * bpf_filter stage). Linked normally they cost every run ~5 ms of start-up (libmicrohttpd
 * alone pulls in GnuTLS and p11-kit, whose constructors run at exec), a tenth of a short
 * run's wall time (docs/architecture.md "Start-up"). Control path only.
 */
#ifndef SL_BASE_LAZYLIB_H
#define SL_BASE_LAZYLIB_H

#include <stdbool.h>

struct sl_lazylib {
	const char *soname; /* e.g. "libmicrohttpd.so.12" */
	void *handle;	    /* set by sl_lazylib_open */
	bool failed;	    /* tried and could not open: not tried again */
};

/*
 * Open lib once (thread-safe); 0 when open, -1 with an error log naming the library and
 * what (who) needed it otherwise. Later calls return at once.
 */
int sl_lazylib_open(struct sl_lazylib *lib, const char *who);

/* The address of symbol name in an open lib; NULL (and an error log) when missing. */
void *sl_lazylib_sym(struct sl_lazylib *lib, const char *name);

/* Resolve sym's address into the function pointer fp, typed as the prototype of sym. */
#define SL_LAZYLIB_BIND(lib, fp, sym) \
	((fp) = (__typeof__(&sym))sl_lazylib_sym((lib), #sym), (fp) != NULL)

#endif
