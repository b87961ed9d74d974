/*
 * Fuzz target for sl_json_from_record and friends: arbitrary bytes are taken as a record.
 * Whatever comes out must be valid JSON (checked by json_check.h), must fit exactly in a
 * buffer of its own size, and must report "too small" one byte short of it. The same
 * bytes are also written without a top-level member, as a line event and as a bare value. Replayed over
 * tests/fuzz/corpus/json/ by every build; libFuzzer drives it under -Dfuzz=true.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/json.h"
#include "format/json_check.h"

#define FUZZ_OUT_CAP (1u << 20)

static char fuzz_out[FUZZ_OUT_CAP], fuzz_again[FUZZ_OUT_CAP];

static void fuzz_fail(const char *what, const char *s, long n)
{
	fprintf(stderr, "json_fuzz: %s (%ld bytes): %.*s\n", what, n, (int)(n > 400 ? 400 : n), s);
	abort();
}

/* Check one conversion result against the validator and the exact-capacity contract. */
static void fuzz_check(long n, long (*again)(const uint8_t *, size_t, char *, size_t),
		       const uint8_t *data, size_t size)
{
	long m;

	if (n == -1)
		return;
	if (n < 0)
		fuzz_fail("unexpected return", "", n);
	if (!json_check(fuzz_out, (size_t)n, SL_REC_MAX_DEPTH + 2))
		fuzz_fail("invalid JSON", fuzz_out, n);
	m = again(data, size, fuzz_again, (size_t)n);
	if (m != n || memcmp(fuzz_out, fuzz_again, (size_t)n) != 0)
		fuzz_fail("exact capacity changed the output", fuzz_again, m);
	if (n > 0 && again(data, size, fuzz_again, (size_t)n - 1) != -2)
		fuzz_fail("one byte short did not report -2", fuzz_out, n);
}

static long fuzz_record(const uint8_t *data, size_t size, char *out, size_t cap)
{
	struct sl_rec rec = { data, (uint32_t)size };

	return sl_json_from_record(rec, out, cap);
}

/* The record without its top-level "a" members (one-letter keys are common in the corpus). */
static long fuzz_record_without(const uint8_t *data, size_t size, char *out, size_t cap)
{
	struct sl_rec rec = { data, (uint32_t)size };

	return sl_json_from_record_without(rec, "a", out, cap);
}

static long fuzz_line(const uint8_t *data, size_t size, char *out, size_t cap)
{
	return sl_json_from_line((const char *)data, size, out, cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	fuzz_check(fuzz_record(data, size, fuzz_out, sizeof(fuzz_out)), fuzz_record, data, size);
	fuzz_check(fuzz_record_without(data, size, fuzz_out, sizeof(fuzz_out)), fuzz_record_without,
		   data, size);
	fuzz_check(sl_json_from_value(data, size, fuzz_out, sizeof(fuzz_out)), sl_json_from_value,
		   data, size);
	fuzz_check(fuzz_line(data, size, fuzz_out, sizeof(fuzz_out)), fuzz_line, data, size);
	return 0;
}
