/*
 * Fuzz target for the syslog_parse parser (parse.h): any bytes in, never a crash or an
 * out-of-bounds access. On failure the code must be a known one and the offset within the
 * line. On success the record must be one map spanning the bytes written whose facility
 * and severity rebuild the <PRI> the line starts with, whose header strings are the very
 * bytes of the line (each found in it, without spaces), and whose msg is the line's tail.
 * The format (auto, 3164, 5424) follows the input length. Every build replays
 * tests/fuzz/corpus/syslog_parse; -Dfuzz=true builds it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#define FUZZ_TARGET "syslog_parse_fuzz"

#include "parse.h"
#include "../json_parse/parse_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int syslog_one(const void *c, const char *line, size_t len, struct sl_rec_writer *w,
		      uint32_t *off)
{
	return syslog_parse_line(c, line, len, w, off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_syslog_conf confs[3] = {
		{ .format = SL_SYSLOG_AUTO, .year = 2024 },
		{ .format = SL_SYSLOG_RFC3164, .year = 2023 },
		{ .format = SL_SYSLOG_RFC5424, .year = 2024 },
	};
	static const char *const header[] = { "hostname", "app_name", "procid", "msgid" };
	static uint8_t rec[1 << 17];
	const char *line = (const char *)data;
	struct sl_rec r;
	struct sl_val v, fac, sev;
	uint32_t len;
	char pri[8];
	int n;

	if (size > 65535)
		return 0;
	len = fuzz_parse(syslog_one, &confs[size % 3], data, size, rec, sizeof(rec),
			 SL_SYSLOG_TOO_LARGE);
	if (len == 0)
		return 0;
	r = (struct sl_rec){ rec, len };
	fuzz_check(sl_rec_find(r, "facility", 8, &fac) && fac.type == SL_VAL_INT &&
			   sl_rec_find(r, "severity", 8, &sev) && sev.type == SL_VAL_INT,
		   "facility and severity");
	fuzz_check(fac.i >= 0 && fac.i <= 23 && sev.i >= 0 && sev.i <= 7, "PRI parts in range");
	n = snprintf(pri, sizeof(pri), "<%d>", (int)(fac.i * 8 + sev.i));
	fuzz_check((size_t)n <= size && memcmp(pri, line, (size_t)n) == 0, "PRI rebuilt");
	for (int i = 0; i < 4; i++) {
		if (!sl_rec_find(r, header[i], strlen(header[i]), &v))
			continue;
		fuzz_check(v.type == SL_VAL_STR && v.s.len > 0 && !memchr(v.s.p, ' ', v.s.len) &&
				   memmem(line, size, v.s.p, v.s.len) != NULL,
			   "a header field is a word of the line");
	}
	fuzz_check(sl_rec_find(r, "msg", 3, &v) && v.type == SL_VAL_STR, "msg present");
	fuzz_check(v.s.len <= size && memcmp(line + size - v.s.len, v.s.p, v.s.len) == 0,
		   "msg is the line's tail");
	if (sl_rec_find(r, "timestamp", 9, &v))
		fuzz_check(v.type == SL_VAL_INT, "timestamp is an integer");
	return 0;
}
