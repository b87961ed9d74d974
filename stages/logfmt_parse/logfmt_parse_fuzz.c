/*
 * Fuzz target for the logfmt_parse parser (parse.h): any bytes in, never a crash or an
 * out-of-bounds access. On failure the code must be a known one and the offset within the
 * line. On success the record must be one map spanning the bytes written, and a round trip
 * must be exact: the record written back as logfmt (true as a bare key, numbers as
 * numbers, strings quoted with JSON escapes) and parsed again gives the very same msgpack
 * bytes. Typing is on for even input lengths. Every build replays tests/fuzz/corpus/logfmt_parse;
 * -Dfuzz=true builds it for fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#define FUZZ_TARGET "logfmt_parse_fuzz"

#include "parse.h"
#include "../json_parse/parse_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int logfmt_one(const void *c, const char *line, size_t len, struct sl_rec_writer *w,
		      uint32_t *off)
{
	return logfmt_parse_line(c, line, len, w, off);
}

/* Append the value v as logfmt text after "key" (the '=' included unless a bare key). */
static size_t fuzz_value(char *o, size_t n, const struct sl_val *v)
{
	switch (v->type) {
	case SL_VAL_BOOL:
		return v->b ? n : n + (size_t)sprintf(o + n, "=false");
	case SL_VAL_INT:
		return n + (size_t)sprintf(o + n, "=%lld", (long long)v->i);
	case SL_VAL_UINT:
		return n + (size_t)sprintf(o + n, "=%llu", (unsigned long long)v->u);
	case SL_VAL_FLOAT: {
		size_t s = n + 1;
		o[n] = '=';
		n = s + (size_t)sprintf(o + s, "%.17g", v->f);
		if (!memchr(o + s, '.', n - s) && !memchr(o + s, 'e', n - s))
			n += (size_t)sprintf(o + n, ".0");
		return n;
	}
	case SL_VAL_STR:
		o[n++] = '=';
		o[n++] = '"';
		for (uint32_t i = 0; i < v->s.len; i++) {
			uint8_t c = (uint8_t)v->s.p[i];
			if (c == '"' || c == '\\') {
				o[n++] = '\\';
				o[n++] = (char)c;
			} else if (c < 0x20) {
				n += (size_t)sprintf(o + n, "\\u%04x", c);
			} else {
				o[n++] = (char)c;
			}
		}
		o[n++] = '"';
		return n;
	default:
		fuzz_check(0, "a value of a type logfmt does not make");
		return n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_logfmt_conf confs[2] = { { .typed = true }, { .typed = false } };
	static uint8_t rec[1 << 17], rec2[1 << 17];
	static char text[1 << 19];
	const struct sl_logfmt_conf *c = &confs[size & 1];
	struct sl_rec_writer w;
	struct sl_val v, k;
	uint32_t off = UINT32_MAX, len, len2, pos = 0;
	size_t n = 0;
	int rc;

	if (size > 65535)
		return 0;
	len = fuzz_parse(logfmt_one, c, data, size, rec, sizeof(rec), SL_LOGFMT_TOO_LARGE);
	if (len == 0)
		return 0;
	fuzz_check(sl_mp_read(rec, rec + len, &v) && v.n > 0, "a non-empty map");
	while (sl_rec_next((struct sl_rec){ rec, len }, &pos, &k, &v)) {
		fuzz_check(k.type == SL_VAL_STR && k.s.len > 0, "keys are non-empty strings");
		fuzz_check(memmem(data, size, k.s.p, k.s.len) != NULL, "keys come from the line");
		if (n)
			text[n++] = ' ';
		memcpy(text + n, k.s.p, k.s.len);
		n = fuzz_value(text, n + k.s.len, &v);
	}
	sl_rec_begin(&w, rec2, sizeof(rec2));
	rc = logfmt_parse_line(c, text, n, &w, &off);
	if (rc != SL_LOGFMT_OK)
		fprintf(stderr, "reparse: %s at %u: %.*s\n", sl_logfmt_err_names[rc], off, (int)n,
			text);
	fuzz_check(rc == SL_LOGFMT_OK, "the logfmt written back parses");
	len2 = sl_rec_end(&w);
	fuzz_check(len2 == len && memcmp(rec, rec2, len) == 0, "the round trip is exact");
	return 0;
}
