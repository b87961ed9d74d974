/*
 * What the fuzz targets of the line parsers (json_parse, logfmt_parse, syslog_parse,
 * regex_parse) share: a check that aborts with the target's name, and the first pass every
 * target makes (parse into a writer that is smaller than the input on every 7th length, so
 * the overflow path runs too; the code must be a known one, an error offset must lie
 * within the line, a zero-length record must mean overflow, and a record must be one map
 * spanning the bytes written). Included by one fuzz target at a time, which defines
 * FUZZ_TARGET first.
 */
#ifndef SL_STAGES_PARSE_FUZZ_H
#define SL_STAGES_PARSE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sluice/record.h>

#include "parse_common.h"

static void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: check failed: %s\n", FUZZ_TARGET, what);
		abort();
	}
}

/* Parse data with parse and conf into rec (cap bytes, less on every 7th length). Returns
 * the record's length, or 0 when the line is an error or the record overflowed. */
static uint32_t fuzz_parse(parse_line_fn parse, const void *conf, const uint8_t *data, size_t size,
			   uint8_t *rec, uint32_t cap, int too_large)
{
	struct sl_rec_writer w;
	struct sl_val v;
	uint32_t off = UINT32_MAX, len;
	int rc;

	sl_rec_begin(&w, rec, size % 7 == 3 ? (uint32_t)(size / 2 + 3) : cap);
	rc = parse(conf, (const char *)data, size, &w, &off);
	fuzz_check(rc >= 0 && rc < too_large, "return code in range");
	if (rc != 0) {
		fuzz_check(off <= size, "error offset within the line");
		return 0;
	}
	len = sl_rec_end(&w);
	if (len == 0) {
		fuzz_check(w.overflow, "a zero-length record means overflow");
		return 0;
	}
	fuzz_check(sl_mp_read(rec, rec + len, &v) == rec + len && v.type == SL_VAL_MAP,
		   "one map spanning the record");
	return len;
}

#endif
