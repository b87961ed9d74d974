/*
 * Differential check of nginx_parse's fast path (nginx_parse_line_fast, parse.h) against
 * the checked parser it falls back to (nginx_parse_line_slow), for the unit test and the
 * fuzz target: on any line, the fast path either gives up (-1) leaving the writer as it
 * was, or accepts a line the checked parser accepts too, with the same record bytes and
 * the same end of the combined prefix (rest).
 */
#ifndef SL_STAGES_NGINX_FAST_CHECK_H
#define SL_STAGES_NGINX_FAST_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sluice/record.h>

#include "parse.h"

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
		return NULL;
	}
	if (sb != SL_NGINX_OK)
		return "fast path accepted a line the checked parser rejects";
	if (wa.len != wb.len || wa.n_fields != wb.n_fields || wa.overflow != wb.overflow ||
	    memcmp(a, b, wa.len) != 0)
		return "fast path and checked parser wrote different records";
	if (ra != rb)
		return "fast path and checked parser end the combined prefix at different bytes";
	return NULL;
}

#endif
