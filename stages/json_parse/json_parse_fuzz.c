/*
 * Fuzz target for the json_parse parser (parse.h): any bytes in, never a crash or an
 * out-of-bounds access. On failure the code must be a known one and the offset within the
 * line. On success the record must be one map spanning the bytes written, and a round
 * trip must be exact: the record written back as JSON by the jsonl sink's converter
 * (format/json.h) and parsed again gives the very same msgpack bytes (types, numbers to the
 * bit, unescaped strings, flattened keys). Flattening is on for even input lengths. A
 * writer smaller than the input on every 7th length exercises the overflow path. Every build
 * replays tests/fuzz/corpus/json_parse; -Dfuzz=true builds it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#define FUZZ_TARGET "json_parse_fuzz"

#include "format/json.h"
#include "parse.h"
#include "parse_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int json_one(const void *c, const char *line, size_t len, struct sl_rec_writer *w,
		    uint32_t *off)
{
	return json_parse_line(c, line, len, w, off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_json_conf confs[2] = {
		{ .flatten = true, .sep_len = 1, .sep = "." },
		{ .flatten = false, .sep_len = 1, .sep = "." },
	};
	static uint8_t rec[1 << 17], rec2[1 << 17];
	static char text[1 << 19];
	const struct sl_json_conf *c = &confs[size & 1];
	struct sl_rec_writer w;
	uint32_t off = UINT32_MAX, len, len2;
	long n;
	int rc;

	if (size > 65535)
		return 0;
	len = fuzz_parse(json_one, c, data, size, rec, sizeof(rec), SL_JSON_TOO_LARGE);
	if (len == 0)
		return 0;

	n = sl_json_from_record((struct sl_rec){ rec, len }, text, sizeof(text));
	fuzz_check(n > 0, "the record converts to JSON");
	sl_rec_begin(&w, rec2, sizeof(rec2));
	rc = json_parse_line(c, text, (size_t)n, &w, &off);
	if (rc != SL_JSON_OK)
		fprintf(stderr, "reparse: %s at %u: %.*s\n", sl_json_err_names[rc], off, (int)n,
			text);
	fuzz_check(rc == SL_JSON_OK, "the JSON written back parses");
	len2 = sl_rec_end(&w);
	fuzz_check(len2 == len && memcmp(rec, rec2, len) == 0, "the round trip is exact");
	return 0;
}
