/*
 * Diagnostics collected while loading and checking a pipeline: every problem found, each
 * "file:line:column: message", so `sluice validate` can report them all at once. Control
 * path only; grows with malloc.
 */
#ifndef SL_BASE_DIAG_H
#define SL_BASE_DIAG_H

#include <stdint.h>
#include <stdio.h>

struct sl_diag {
	char **msgs;
	uint32_t n, cap;
};

/** Record one error at file:line:column (line 0 omits line and column). */
void sl_diag_add(struct sl_diag *d, const char *file, uint32_t line, uint32_t column,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** Print all to f, one per line. */
void sl_diag_print(const struct sl_diag *d, FILE *f);
void sl_diag_fini(struct sl_diag *d);

#endif
