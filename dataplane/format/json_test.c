/*
 * Unit tests for format/json.c: records packed with msgpack-c's packer and the JSON each
 * must become, written out by hand (escapes, invalid UTF-8, integer edges, float
 * round-trips, nesting limits, capacity errors). Every produced text is also checked by
 * the independent validator in json_check.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "format/json.h"
#include "format/json_check.h"

static msgpack_sbuffer sbuf;
static msgpack_packer pk;
static char out[65536];

static void pack_reset(void)
{
	msgpack_sbuffer_destroy(&sbuf);
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
}

static void pack_str(const char *s)
{
	msgpack_pack_str_with_body(&pk, s, strlen(s));
}

static void pack_strn(const char *s, size_t n)
{
	msgpack_pack_str_with_body(&pk, s, n);
}

/* Convert what was packed and compare with the expected text. */
static void expect_json(const char *want)
{
	struct sl_rec rec = { (const uint8_t *)sbuf.data, (uint32_t)sbuf.size };
	long n = sl_json_from_record(rec, out, sizeof(out));

	if (n < 0)
		fail_msg("sl_json_from_record returned %ld, want %s", n, want);
	out[n] = '\0';
	assert_string_equal(out, want);
	assert_true(json_check(out, (size_t)n, 64));
}

static long convert(size_t cap)
{
	struct sl_rec rec = { (const uint8_t *)sbuf.data, (uint32_t)sbuf.size };

	return sl_json_from_record(rec, out, cap);
}

static void test_simple_map(void **state)
{
	pack_reset();
	msgpack_pack_map(&pk, 3);
	pack_str("a");
	msgpack_pack_int(&pk, 1);
	pack_str("b");
	pack_str("x");
	pack_str("empty");
	pack_str("");
	expect_json("{\"a\":1,\"b\":\"x\",\"empty\":\"\"}");

	pack_reset();
	msgpack_pack_map(&pk, 0);
	expect_json("{}");
}

static void test_escapes(void **state)
{
	pack_reset();
	msgpack_pack_map(&pk, 1);
	pack_str("k\"ey");
	pack_strn("q\"b\\s/\n\r\t\b\f\x01\x1f\x7f", 14);
	expect_json("{\"k\\\"ey\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"}");

	/* A NUL inside a string is data, not a terminator. */
	pack_reset();
	msgpack_pack_map(&pk, 1);
	pack_str("z");
	pack_strn("a\0b", 3);
	expect_json("{\"z\":\"a\\u0000b\"}");
}

static void test_utf8(void **state)
{
	/* Valid: é (2 bytes), € (3), U+1D11E (4), U+FFFF, U+10FFFF pass through unchanged. */
	pack_reset();
	msgpack_pack_map(&pk, 1);
	pack_str("s");
	pack_str("h\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xef\xbf\xbf \xf4\x8f\xbf\xbf");
	expect_json("{\"s\":\"h\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xef\xbf\xbf "
		    "\xf4\x8f\xbf\xbf\"}");

	/* Invalid: each byte not part of a valid sequence becomes \u00XX. */
	pack_reset();
	msgpack_pack_map(&pk, 7);
	pack_str("ff");
	pack_str("\xff");
	pack_str("lone_lead_at_end");
	pack_str("a\xc3");
	pack_str("bad_continuation");
	pack_str("\xc3(");
	pack_str("overlong");
	pack_str("\xc0\xaf");
	pack_str("surrogate");
	pack_str("\xed\xa0\x80");
	pack_str("above_10ffff");
	pack_str("\xf4\x90\x80\x80");
	pack_str("stray_continuation");
	pack_str("\x80z");
	expect_json("{\"ff\":\"\\u00ff\",\"lone_lead_at_end\":\"a\\u00c3\","
		    "\"bad_continuation\":\"\\u00c3(\",\"overlong\":\"\\u00c0\\u00af\","
		    "\"surrogate\":\"\\u00ed\\u00a0\\u0080\","
		    "\"above_10ffff\":\"\\u00f4\\u0090\\u0080\\u0080\","
		    "\"stray_continuation\":\"\\u0080z\"}");

	/* Truncated 3-byte sequence followed by valid ASCII. */
	pack_reset();
	msgpack_pack_map(&pk, 1);
	pack_str("t");
	pack_str("\xe2\x82x");
	expect_json("{\"t\":\"\\u00e2\\u0082x\"}");
}

static void test_integers(void **state)
{
	pack_reset();
	msgpack_pack_array(&pk, 10);
	msgpack_pack_int64(&pk, 0);
	msgpack_pack_int64(&pk, -1);
	msgpack_pack_int64(&pk, 127);
	msgpack_pack_int64(&pk, 128);
	msgpack_pack_int64(&pk, -32);
	msgpack_pack_int64(&pk, -33);
	msgpack_pack_int64(&pk, INT64_MIN);
	msgpack_pack_int64(&pk, INT64_MAX);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1);
	/* Arrays are allowed as values (sl_json_from_value), not as records. */
	assert_int_equal(convert(sizeof(out)), -1);
	{
		long n =
			sl_json_from_value((const uint8_t *)sbuf.data, sbuf.size, out, sizeof(out));
		assert_true(n > 0);
		out[n] = '\0';
		assert_string_equal(out, "[0,-1,127,128,-32,-33,-9223372036854775808,"
					 "9223372036854775807,18446744073709551615,"
					 "9223372036854775808]");
	}
}

static void test_floats(void **state)
{
	pack_reset();
	msgpack_pack_map(&pk, 11);
	pack_str("a");
	msgpack_pack_double(&pk, 1.5);
	pack_str("b");
	msgpack_pack_double(&pk, 0.1);
	pack_str("c");
	msgpack_pack_double(&pk, 1.0);
	pack_str("d");
	msgpack_pack_double(&pk, 1e300);
	pack_str("e");
	msgpack_pack_double(&pk, NAN);
	pack_str("f");
	msgpack_pack_double(&pk, -INFINITY);
	pack_str("g");
	msgpack_pack_float(&pk, 0.1f);
	pack_str("h");
	msgpack_pack_double(&pk, 1.0 / 3.0);
	pack_str("i");
	msgpack_pack_double(&pk, -0.0);
	pack_str("j");
	msgpack_pack_double(&pk, 123456789012345680.0);
	pack_str("k");
	msgpack_pack_double(&pk, 100.0);
	/* Expected texts are Python's repr() of the same doubles (shortest round trip),
	 * written with C's exponent form; 0.1f is the float32 shortest form. */
	expect_json("{\"a\":1.5,\"b\":0.1,\"c\":1.0,\"d\":1e+300,\"e\":null,\"f\":null,"
		    "\"g\":0.1,\"h\":0.3333333333333333,\"i\":-0.0,"
		    "\"j\":1.2345678901234568e+17,\"k\":100.0}");
}

/* The text json_float wrote for a double before its fast path (and still writes when the
 * fast path declines): the fewest of 15, 16, 17 significant digits that read back, and
 * ".0" when that has neither a point nor an exponent. The oracle of test_float_fast. */
static void float_reference(double d, char *buf, size_t cap)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, cap, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strchr(buf, '.') && !strchr(buf, 'e'))
		snprintf(buf + n, cap - (size_t)n, ".0");
}

static uint64_t float_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void expect_float(double d)
{
	char want[64], ctx[96];
	long n;

	float_reference(d, want, sizeof(want));
	pack_reset();
	msgpack_pack_double(&pk, d);
	n = sl_json_from_value((const uint8_t *)sbuf.data, sbuf.size, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	if (strcmp(out, want) != 0) {
		snprintf(ctx, sizeof(ctx), "%a", d);
		fail_msg("double %s: got %s, want %s", ctx, out, want);
	}
}

/* json_float's fast path writes exactly what the printf loop writes: short decimals of
 * every length and scale (where it answers), random bit patterns (where it mostly
 * declines), and the edges of its range (1e-4, 1e15, 15 and 16 digits). */
static void test_float_fast(void **state)
{
	uint64_t seed = 5;
	double edges[] = { 1e-4,
			   1e15,
			   1e-5,
			   1e14,
			   999999999999999.0,
			   999999999999999.9,
			   123456789012345.0,
			   0.000123456789012345,
			   0.1 + 0.2,
			   1.0 / 3.0,
			   9007199254740992.0,
			   0.5,
			   2.5,
			   1e-4 * 3,
			   4503599627370496.5 };

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		expect_float(edges[i]);
		expect_float(-edges[i]);
		expect_float(nextafter(edges[i], 0));
		expect_float(nextafter(edges[i], INFINITY));
	}
	for (int e = -8; e <= 17; e++)
		expect_float(pow(10, e));
	for (int i = 0; i < 20000; i++) {
		uint64_t r = float_rng(&seed);
		int digits = 1 + (int)(r % 17), k = (int)((r >> 8) % 20);
		uint64_t m = float_rng(&seed) % (uint64_t)pow(10, digits);
		double d = (double)m / pow(10, k);

		expect_float((r >> 16) & 1 ? -d : d);
	}
	for (int i = 0; i < 20000; i++) {
		uint64_t b = float_rng(&seed);
		double d;

		memcpy(&d, &b, sizeof(d));
		if (isfinite(d))
			expect_float(d);
	}
}

/* Decode the JSON string literal at p (n bytes, quotes included) into bytes: \uXXXX
 * gives the byte XX, as json.c escapes only controls and bytes that are not UTF-8, both
 * below 0x100. Returns the length, or -1 on anything else. */
static long str_decode(const char *p, size_t n, uint8_t *dst)
{
	size_t i = 1, k = 0;

	if (n < 2 || p[0] != '"' || p[n - 1] != '"')
		return -1;
	while (i < n - 1) {
		unsigned v;

		if (p[i] != '\\') {
			dst[k++] = (uint8_t)p[i++];
			continue;
		}
		if (i + 1 >= n - 1)
			return -1;
		switch (p[i + 1]) {
		case '"':
			dst[k++] = '"';
			break;
		case '\\':
			dst[k++] = '\\';
			break;
		case 'b':
			dst[k++] = '\b';
			break;
		case 'f':
			dst[k++] = '\f';
			break;
		case 'n':
			dst[k++] = '\n';
			break;
		case 'r':
			dst[k++] = '\r';
			break;
		case 't':
			dst[k++] = '\t';
			break;
		case 'u':
			if (i + 6 > n - 1 || sscanf(p + i + 2, "%4x", &v) != 1 || v > 0xff)
				return -1;
			dst[k++] = (uint8_t)v;
			i += 4;
			break;
		default:
			return -1;
		}
		i += 2;
	}
	return (long)k;
}

/* Strings of every kind of byte (plain ASCII, quotes, backslashes, controls, DEL, valid
 * UTF-8 of 2 to 4 bytes, stray continuation bytes, truncated, overlong and surrogate
 * sequences), 0 to 100 bytes at every alignment: the JSON is valid (json_check) and
 * decodes back to the same bytes, across the 16-byte steps of the plain-run scan. */
static void test_str_roundtrip(void **state)
{
	static const char *const pieces[] = { "a",
					      "path/to/x",
					      "\"",
					      "\\",
					      "\n",
					      "\x01",
					      "\x1f",
					      "\x7f",
					      "\xc3\xa9",
					      "\xe2\x82\xac",
					      "\xf0\x9f\x98\x80",
					      "\x80",
					      "\xc3",
					      "\xc0\x80",
					      "\xed\xa0\x80",
					      "\xff",
					      " ",
					      "0123456789abcdef" };
	uint64_t seed = 7;
	uint8_t buf[160], dec[160];
	char rng_ctx[64];

	for (int t = 0; t < 20000; t++) {
		size_t len = 0, off = float_rng(&seed) % 32, want = float_rng(&seed) % 101;
		long n, m;

		while (len < want) {
			const char *pc =
				pieces[float_rng(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = strlen(pc);

			/* "\x00" cannot be in a C string: a zero byte now and then instead */
			if (float_rng(&seed) % 16 == 0) {
				pc = "";
				pl = 1;
			}
			if (len + pl > want)
				break;
			memcpy(buf + off + len, pc, pl);
			len += pl;
		}
		/* alone (the string ends the buffer), then followed by more of the record, which
		 * the 16-byte steps may read past the string's end */
		for (int follow = 0; follow < 2; follow++) {
			const char *lit = out + follow;
			size_t ln;

			pack_reset();
			if (follow)
				msgpack_pack_array(&pk, 2);
			msgpack_pack_str_with_body(&pk, buf + off, len);
			if (follow)
				pack_str("\"\\0123456789abcdefghij");
			n = sl_json_from_value((const uint8_t *)sbuf.data, sbuf.size, out,
					       sizeof(out));
			snprintf(rng_ctx, sizeof(rng_ctx), "case %d, %zu bytes at offset %zu%s", t,
				 len, off, follow ? ", followed" : "");
			if (n < 0)
				fail_msg("%s: conversion failed (%ld)", rng_ctx, n);
			out[n] = '\0';
			assert_true(json_check(out, (size_t)n, 4));
			/* the literal: from its quote to the next quote not escaped */
			for (ln = 1; lit[ln] != '"'; ln += lit[ln] == '\\' ? 2 : 1)
				;
			m = str_decode(lit, ln + 1, dec);
			if (m != (long)len || memcmp(dec, buf + off, len) != 0)
				fail_msg("%s: does not decode back", rng_ctx);
			if (follow &&
			    strcmp(lit + ln + 1, ",\"\\\"\\\\0123456789abcdefghij\"]") != 0)
				fail_msg("%s: the next string is %s", rng_ctx, lit + ln + 1);
		}
	}
}

static void test_nested_and_scalars(void **state)
{
	static const char bin[] = { 0x00, (char)0xab, (char)0xff };
	static const char ext[] = { 0x01, 0x02 };

	pack_reset();
	msgpack_pack_map(&pk, 6);
	pack_str("m");
	msgpack_pack_map(&pk, 1);
	pack_str("a");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 2);
	msgpack_pack_map(&pk, 1);
	pack_str("b");
	msgpack_pack_nil(&pk);
	pack_str("t");
	msgpack_pack_true(&pk);
	pack_str("f");
	msgpack_pack_false(&pk);
	pack_str("bin");
	msgpack_pack_bin_with_body(&pk, bin, sizeof(bin));
	pack_str("ext");
	msgpack_pack_ext_with_body(&pk, ext, sizeof(ext), 5);
	pack_str("ea");
	msgpack_pack_array(&pk, 0);
	expect_json("{\"m\":{\"a\":[1,2,{\"b\":null}]},\"t\":true,\"f\":false,"
		    "\"bin\":\"00abff\",\"ext\":\"0102\",\"ea\":[]}");
}

static void test_non_string_keys(void **state)
{
	pack_reset();
	msgpack_pack_map(&pk, 4);
	msgpack_pack_int(&pk, 1);
	pack_str("a");
	msgpack_pack_true(&pk);
	pack_str("b");
	msgpack_pack_nil(&pk);
	pack_str("c");
	msgpack_pack_int(&pk, -7);
	pack_str("d");
	expect_json("{\"1\":\"a\",\"true\":\"b\",\"null\":\"c\",\"-7\":\"d\"}");

	/* A container as a key cannot be a JSON key. */
	pack_reset();
	msgpack_pack_map(&pk, 1);
	msgpack_pack_array(&pk, 0);
	pack_str("x");
	assert_int_equal(convert(sizeof(out)), -1);
}

static void test_depth_limit(void **state)
{
	char want[256];
	size_t n = 0;

	/* SL_REC_MAX_DEPTH nested maps are fine ... */
	pack_reset();
	for (int i = 0; i < SL_REC_MAX_DEPTH - 1; i++) {
		msgpack_pack_map(&pk, 1);
		pack_str("k");
		n += (size_t)snprintf(want + n, sizeof(want) - n, "{\"k\":");
	}
	msgpack_pack_map(&pk, 0);
	n += (size_t)snprintf(want + n, sizeof(want) - n, "{}");
	for (int i = 0; i < SL_REC_MAX_DEPTH - 1; i++)
		want[n++] = '}';
	want[n] = '\0';
	expect_json(want);

	/* ... one more is malformed. */
	pack_reset();
	for (int i = 0; i < SL_REC_MAX_DEPTH; i++) {
		msgpack_pack_map(&pk, 1);
		pack_str("k");
	}
	msgpack_pack_map(&pk, 0);
	assert_int_equal(convert(sizeof(out)), -1);
}

static void test_malformed(void **state)
{
	static const uint8_t truncated_str[] = { 0x81, 0xa1, 'a', 0xa5, 'x', 'y' };
	static const uint8_t reserved[] = { 0x81, 0xa1, 'a', 0xc1 };
	static const uint8_t short_map[] = { 0x82, 0xa1, 'a', 0x01 };
	static const uint8_t huge_array[] = { 0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 1 };
	static const uint8_t not_map[] = { 0xa1, 'a' };
	static const uint8_t trailing[] = { 0x81, 0xa1, 'a', 0x02, 0xc1, 0xff };
	struct sl_rec r;

#define CONV(b) (r = (struct sl_rec){ b, sizeof(b) }, sl_json_from_record(r, out, sizeof(out)))
	assert_int_equal(CONV(truncated_str), -1);
	assert_int_equal(CONV(reserved), -1);
	assert_int_equal(CONV(short_map), -1);
	assert_int_equal(CONV(huge_array), -1);
	assert_int_equal(CONV(not_map), -1);
	assert_int_equal(CONV(trailing), 7);
	assert_memory_equal(out, "{\"a\":2}", 7);
#undef CONV
	r = (struct sl_rec){ NULL, 0 };
	assert_int_equal(sl_json_from_record(r, out, sizeof(out)), -1);
}

/* Every strict prefix of a record is malformed (its map is short of pairs, or a value of
 * bytes): each scalar kind's bounds check, the fixstr and str8 keys and values, fixints
 * and doubles read without sl_mp_head among them, answers -1, and the whole record is
 * converted. The prefixes are copied to buffers of their own size, so ASan sees a read
 * past the end. */
static void test_prefixes(void **state)
{
	char s40[40];
	long n;

	memset(s40, 'x', sizeof(s40));
	pack_reset();
	msgpack_pack_map(&pk, 6);
	pack_str("fix");
	pack_str("abc");
	pack_str("str8");
	pack_strn(s40, sizeof(s40));
	pack_strn(s40, 33); /* a str8 key */
	msgpack_pack_int(&pk, 7);
	pack_str("d");
	msgpack_pack_double(&pk, 0.25);
	pack_str("u16");
	msgpack_pack_uint16(&pk, 300);
	pack_str("neg");
	msgpack_pack_int(&pk, -5);
	n = convert(sizeof(out));
	assert_true(n > 0);
	for (size_t len = 0; len < sbuf.size; len++) {
		uint8_t *b = malloc(len ? len : 1);
		struct sl_rec r = { b, (uint32_t)len };

		assert_non_null(b);
		memcpy(b, sbuf.data, len);
		if (sl_json_from_record(r, out, sizeof(out)) != -1)
			fail_msg("a prefix of %zu of %zu bytes converted", len, sbuf.size);
		free(b);
	}
}

static void test_capacity(void **state)
{
	const char *want = "{\"key\":\"v\\u0001\",\"n\":[1,2.5,null]}";
	size_t len = strlen(want);

	pack_reset();
	msgpack_pack_map(&pk, 2);
	pack_str("key");
	pack_str("v\x01");
	pack_str("n");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_nil(&pk);
	expect_json(want);
	/* Exact capacity works; every smaller one says "too small" and never writes past cap. */
	assert_int_equal(convert(len), (long)len);
	for (size_t cap = 0; cap < len; cap++) {
		memset(out, 'Z', sizeof(out));
		assert_int_equal(convert(cap), -2);
		assert_int_equal(out[cap], 'Z');
	}
}

/* sl_json_from_record_without on what was packed: the text, or the error. */
static long convert_without(const char *skip, size_t cap)
{
	struct sl_rec rec = { (const uint8_t *)sbuf.data, (uint32_t)sbuf.size };
	long n = sl_json_from_record_without(rec, skip, out, cap);

	if (n >= 0 && (size_t)n < cap)
		out[n] = '\0';
	return n;
}

static void test_without(void **state)
{
	const char *want = "{\"a\":1,\"b\":{\"event_id\":2},\"event_idx\":[3]}";

	/* Top-level members named skip go, wherever they are and however many; a nested one
	 * and a longer name stay. */
	pack_reset();
	msgpack_pack_map(&pk, 5);
	pack_str("event_id");
	pack_str("first");
	pack_str("a");
	msgpack_pack_int(&pk, 1);
	pack_str("b");
	msgpack_pack_map(&pk, 1);
	pack_str("event_id");
	msgpack_pack_int(&pk, 2);
	pack_str("event_id");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 7);
	msgpack_pack_map(&pk, 0);
	pack_str("event_idx");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 3);
	assert_int_equal(convert_without("event_id", sizeof(out)), (long)strlen(want));
	assert_string_equal(out, want);
	assert_true(json_check(out, strlen(out), 64));
	/* Exact capacity works, every smaller one is "too small" and writes nothing past. */
	for (size_t cap = 0; cap < strlen(want); cap++) {
		memset(out, 'Z', sizeof(out));
		assert_int_equal(convert_without("event_id", cap), -2);
		assert_int_equal(out[cap], 'Z');
	}
	/* Without such a member: what sl_json_from_record writes. */
	assert_true(convert_without("nope", sizeof(out)) > 0);
	assert_string_equal(out, "{\"event_id\":\"first\",\"a\":1,\"b\":{\"event_id\":2},"
				 "\"event_id\":[7,{}],\"event_idx\":[3]}");
	/* Only that member: an empty object. */
	pack_reset();
	msgpack_pack_map(&pk, 1);
	pack_str("event_id");
	msgpack_pack_int(&pk, 5);
	assert_int_equal(convert_without("event_id", sizeof(out)), 2);
	assert_string_equal(out, "{}");
	/* Not a map, a value cut short, a container as a key: malformed. */
	pack_reset();
	msgpack_pack_array(&pk, 0);
	assert_int_equal(convert_without("event_id", sizeof(out)), -1);
	pack_reset();
	msgpack_pack_map(&pk, 2);
	pack_str("event_id");
	msgpack_pack_int(&pk, 5);
	pack_str("a");
	assert_int_equal(convert_without("event_id", sizeof(out)), -1);
	pack_reset();
	msgpack_pack_map(&pk, 1);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_int(&pk, 5);
	assert_int_equal(convert_without("event_id", sizeof(out)), -1);
}

static void test_rec_writer_record(void **state)
{
	uint8_t buf[256];
	struct sl_rec_writer w;
	struct sl_rec rec;
	long n;

	sl_rec_begin(&w, buf, sizeof(buf));
	sl_rec_put_str(&w, "path", "/a b", 4);
	sl_rec_put_int(&w, "status", 404);
	sl_rec_put_bool(&w, "ok", false);
	sl_rec_put_float(&w, "t", 0.25);
	rec.p = buf;
	rec.len = sl_rec_end(&w);
	assert_true(rec.len > 0);
	n = sl_json_from_record(rec, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "{\"path\":\"/a b\",\"status\":404,\"ok\":false,\"t\":0.25}");
}

static void test_line_and_string(void **state)
{
	const char *line = "GET \"/\" \xff\tok";
	long n = sl_json_from_line(line, strlen(line), out, sizeof(out));

	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "{\"line\":\"GET \\\"/\\\" \\u00ff\\tok\"}");
	assert_int_equal(sl_json_from_line("abc", 3, out, 14), 14);
	assert_int_equal(sl_json_from_line("abc", 3, out, 13), -2);

	n = sl_json_string("", 0, out, sizeof(out));
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\"\"", 2);
	assert_int_equal(sl_json_string("a\n", 2, out, 4), -2);
	assert_int_equal(sl_json_string("a\n", 2, out, 5), 5);
	assert_memory_equal(out, "\"a\\n\"", 5);
}

static void test_checker_rejects(void **state)
{
	/* The validator itself must reject what the converter must never produce. */
	assert_false(json_check("{\"a\":1", 6, 8));
	assert_false(json_check("\"\x01\"", 3, 8));
	assert_false(json_check("\"\xff\"", 3, 8));
	assert_false(json_check("\"\xed\xa0\x80\"", 5, 8));
	assert_false(json_check("[1,]", 4, 8));
	assert_false(json_check("01", 2, 8));
	assert_false(json_check("nan", 3, 8));
	assert_false(json_check("{1:2}", 5, 8));
	const char *ok = "{\"a\":[1,-2.5e+3,\"\\u00ff\",true,null]}";

	assert_true(json_check(ok, strlen(ok), 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_map),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_float_fast),
		cmocka_unit_test(test_str_roundtrip),
		cmocka_unit_test(test_nested_and_scalars),
		cmocka_unit_test(test_non_string_keys),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_without),
		cmocka_unit_test(test_rec_writer_record),
		cmocka_unit_test(test_line_and_string),
		cmocka_unit_test(test_checker_rejects),
	};
	int rc;

	msgpack_sbuffer_init(&sbuf);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	msgpack_sbuffer_destroy(&sbuf);
	return rc;
}
