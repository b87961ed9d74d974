/*
 * Differential check of nginx_parse's fast path (nginx_parse_line_fast, parse.h) against
 * the checked parser it falls back to (nginx_parse_line_slow), for the unit test and the
 * fuzz target: on any line, the fast path either gives up (-1) leaving the writer as it
 * was, or accepts a line the checked parser accepts too, with the same record bytes and
 * the same end of the combined prefix (rest). Where the CPU has AVX2, the AVX2 instance of
 * the fast path must do exactly what the SSE2 one did.
 */
#ifndef SL_STAGES_NGINX_FAST_CHECK_H
#define SL_STAGES_NGINX_FAST_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sluice/record.h>

#include "parse.h"

/* The AVX2 fast path (when the CPU has it) gives what the SSE2 one gave (fa, the writer wa
 * over buffer a, rest ra): the same code, writer state, record bytes and rest. */
static inline const char *nginx_fast_check_avx2(const char *line, size_t len, uint64_t fields,
						bool want_rest, uint32_t cap, int fa,
						const struct sl_rec_writer *wa, const uint8_t *a,
						const char *ra)
{
#if NGINX_HAVE_AVX2
	static uint8_t c[16384];
	struct sl_rec_writer wc;
	const char *rc = NULL;
	int fc;

	if (!nginx_cpu_avx2())
		return NULL;
	sl_rec_begin(&wc, c, cap);
	fc = nginx_parse_line_fast_avx2(line, len, &wc, fields, want_rest ? &rc : NULL);
	if (fc != fa)
		return "AVX2 and SSE2 fast paths: different outcomes";
	if (wc.len != wa->len || wc.n_fields != wa->n_fields || wc.overflow != wa->overflow ||
	    memcmp(c, a, wc.len) != 0 || rc != ra)
		return "AVX2 and SSE2 fast paths wrote different records or rests";
#else
	(void)line, (void)len, (void)fields, (void)want_rest, (void)cap, (void)fa, (void)wa,
		(void)a, (void)ra;
#endif
	return NULL;
}

/* NULL when both agree on line (fields, a writer of cap bytes, rest wanted or not), else
 * what differs; *fast tells whether the fast path accepted the line. */
static inline const char *nginx_fast_check(const char *line, size_t len, uint64_t fields,
					   bool want_rest, uint32_t cap, bool *fast)
{
	static uint8_t a[16384], b[16384];
	struct sl_rec_writer wa, wb;
	const char *ra = NULL, *rb = NULL;
	uint32_t off = UINT32_MAX;
	int fa, sb;

	if (cap > sizeof(a))
		cap = sizeof(a);
	sl_rec_begin(&wa, a, cap);
	sl_rec_begin(&wb, b, cap);
	fa = nginx_parse_line_fast(line, len, &wa, fields, want_rest ? &ra : NULL);
	sb = nginx_parse_line_slow(line, len, &wb, &off, fields, want_rest ? &rb : NULL);
	*fast = fa == SL_NGINX_OK;
	if (fa != SL_NGINX_OK) {
		if (fa != -1)
			return "fast path: neither accepted nor given up";
		if (wa.len != (cap < 3 ? 0 : 3) || wa.n_fields != 0 || wa.overflow != (cap < 3))
			return "fast path changed the writer and gave up";
		return nginx_fast_check_avx2(line, len, fields, want_rest, cap, fa, &wa, a, ra);
	}
	if (sb != SL_NGINX_OK)
		return "fast path accepted a line the checked parser rejects";
	if (wa.len != wb.len || wa.n_fields != wb.n_fields || wa.overflow != wb.overflow ||
	    memcmp(a, b, wa.len) != 0)
		return "fast path and checked parser wrote different records";
	if (ra != rb)
		return "fast path and checked parser end the combined prefix at different bytes";
	return nginx_fast_check_avx2(line, len, fields, want_rest, cap, fa, &wa, a, ra);
}

#endif
