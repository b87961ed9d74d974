/*
 * Fuzz target for pkt_filter's language (pkt_expr.h): the first bytes up to a NUL are
 * the expression, the rest a frame. Any expression must compile or fail with an offset
 * inside it, never crash; a compiled one is evaluated on the frame (parsed by pkt.h, held
 * in an mbuf as pkt_parse leaves it) and must give the same answer twice, and `not (E)`
 * must give the opposite; its compiled form (pkt_expr.h) must give the same answer. Every build
 * replays tests/fuzz/corpus/pkt_filter; -Dfuzz=true builds it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "pkt_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "pkt_expr_fuzz: check failed: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	const uint8_t *frame = nul ? nul + 1 : data + size;
	uint32_t flen = (uint32_t)(size - elen - (nul ? 1 : 0));
	char *src = malloc(elen + 1), *neg = malloc(elen + 8);
	struct sl_pkt_expr *e = NULL, *ne = NULL;
	struct sl_pkt_info pi;
	struct sl_pkt_view v;
	struct rte_mbuf m;
	uint32_t off = 0;
	const struct sl_pkt_kprog *kp;
	char msg[200];
	bool a, vok;

	if (!src || !neg)
		abort();
	memcpy(src, data, elen);
	src[elen] = '\0';
	if (sl_pkt_expr_compile(src, &e, &off, msg, sizeof(msg)) != 0) {
		fuzz_check(e == NULL, "no program on failure");
		fuzz_check(off <= elen, "error offset inside the expression");
		goto out;
	}
	if (flen > UINT16_MAX)
		flen = UINT16_MAX;
	memset(&m, 0, sizeof(m));
	m.buf_addr = (void *)(uintptr_t)frame;
	m.data_len = (uint16_t)flen;
	m.pkt_len = flen;
	m.buf_len = (uint16_t)flen;
	if (sl_pkt_parse(frame, flen, &pi) == SL_PKT_OK)
		sl_pkt_store(&m, &pi);
	vok = sl_pkt_view(&m, &v);
	a = sl_pkt_expr_eval(e, &v, flen);
	fuzz_check(a == sl_pkt_expr_eval(e, &v, flen), "same answer twice");
	/* The compiled form agrees (pkt_filter: an unparsed frame never matches). */
	if ((kp = sl_pkt_expr_kprog(e)) != NULL) {
		struct sl_pkt_key key;
		bool kok = sl_pkt_key(&m, kp->need, &key);

		fuzz_check(kok == vok, "key exactly when view");
		fuzz_check(!vok || sl_pkt_kprog_eval(kp, &key) == a, "compiled form: same answer");
	}
	snprintf(neg, elen + 8, "not (%s)", src);
	if (sl_pkt_expr_compile(neg, &ne, &off, msg, sizeof(msg)) == 0)
		fuzz_check(sl_pkt_expr_eval(ne, &v, flen) == !a, "not (E) is the opposite");
out:
	sl_pkt_expr_destroy(e);
	sl_pkt_expr_destroy(ne);
	free(src);
	free(neg);
	return 0;
}
