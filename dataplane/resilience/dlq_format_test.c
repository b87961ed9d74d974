/*
 * Unit tests for resilience/dlq_format.c: entries written and read back byte for byte
 * (UTF-8 raw bytes as "raw", anything else as "raw_base64"), the exact text of one line
 * written out by hand, dates across leap days, and the reader's errors with the byte
 * offset each must name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "format/json_check.h"
#include "resilience/dlq_format.h"

static char out[1 << 16];
static char scratch[1 << 16];

static struct sl_dlq_str S(const char *s) {
	return (struct sl_dlq_str){ s, (uint32_t)strlen(s) };
}

static void
roundtrip(const char *raw, uint32_t len, const char *field)
{
	struct sl_dlq_entry e = {
		.time_ns = 1764259463123456789ull,
		.event_id = 0xffffffffffffffffull,
		.stage = S("parse"),
		.use = S("nginx_parse"),
		.version = S("1.0.0"),
		.output = S("errors"),
		.reason = S("bad_status"),
		.raw = { raw, len },
	};
	struct sl_dlq_entry got;
	struct sl_dlq_error err;
	long n = sl_dlq_format(&e, out, sizeof(out));

	assert_true(n > 0);
	assert_int_equal(out[n - 1], '\n');
	assert_true(json_check(out, (size_t)n - 1, 8));
	assert_non_null(strstr(out, field));
	assert_int_equal(sl_dlq_parse(out, (size_t)n - 1, &got, scratch, &err), 0);
	assert_int_equal(got.raw.len, len);
	assert_memory_equal(got.raw.p, raw, len);
	assert_true(got.event_id == e.event_id);
	assert_true(got.time_ns == e.time_ns);
	assert_int_equal(got.stage.len, 5);
	assert_memory_equal(got.stage.p, "parse", 5);
	assert_int_equal(got.reason.len, 10);
	assert_memory_equal(got.reason.p, "bad_status", 10);
	assert_null(got.plugin.p);
	/* One byte short of the line is "too small", never a partial line. */
	assert_int_equal(sl_dlq_format(&e, out, (size_t)n - 1), -2);
}

static void test_roundtrip(void **state)
{
	static const char bin[] = { 'a', 0, '\xff', '\n', '"', '\\', 0x7f, '\xc3' };
	static const char ctl[] = { 'x', 0, 1, '\t', '\r', '"', '\\', '/' };
	char big[5000];

	roundtrip("1.2.3.4 - - [x] \"GET / HTTP/1.1\" abc 12 \"-\" \"-\"", 48, "\"raw\":");
	roundtrip("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8", 14, "\"raw\":");
	roundtrip(ctl, sizeof(ctl), "\"raw\":");
	roundtrip(bin, sizeof(bin), "\"raw_base64\":");
	roundtrip(bin, 1, "\"raw\":");
	roundtrip(bin, 3, "\"raw_base64\":");
	roundtrip(bin + 2, 1, "\"raw_base64\":");
	roundtrip(bin + 2, 2, "\"raw_base64\":");
	roundtrip("", 0, "\"raw\":\"\"");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 1);
	roundtrip(big, sizeof(big), "\"raw_base64\":");
}

static void test_exact_text(void **state)
{
	/* A record {"error":"bad_ip","offset":0} in msgpack (map16 header, as stages write). */
	static const uint8_t rec[] = { 0xde, 0x00, 0x02, 0xa5, 'e', 'r', 'r', 'o',
				       'r',  0xa6, 'b',	 'a',  'd', '_', 'i', 'p',
				       0xa6, 'o',  'f',	 'f',  's', 'e', 't', 0x00 };
	struct sl_dlq_entry e = {
		.time_ns = 951782400000000001ull, /* 2000-02-29, a leap day */
		.event_id = 42,
		.stage = S("risky"),
		.use = S("crash_on"),
		.version = S("1.0.0"),
		.plugin = S("/opt/p/crash_on.so"),
		.output = S("failed"),
		.reason = S("bad_ip"),
		.source = S("access"),
		.raw = S("x\"y"),
		.truncated = true,
		.record = rec,
		.record_len = sizeof(rec),
	};
	const char *want =
		"{\"time\":\"2000-02-29T00:00:00.000000001Z\",\"time_ns\":951782400000000001,"
		"\"stage\":\"risky\",\"use\":\"crash_on\",\"version\":\"1.0.0\","
		"\"plugin\":\"/opt/p/crash_on.so\",\"output\":\"failed\",\"reason\":\"bad_ip\","
		"\"source\":\"access\",\"event_id\":42,\"truncated\":true,"
		"\"record\":{\"error\":\"bad_ip\",\"offset\":0},\"raw\":\"x\\\"y\"}\n";
	long n = sl_dlq_format(&e, out, sizeof(out));

	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(out, want, (size_t)n);

	/* Absent strings and a malformed record are null. */
	e = (struct sl_dlq_entry){ .time_ns = 0, .record = rec, .record_len = 3, .raw = S("") };
	n = sl_dlq_format(&e, out, sizeof(out));
	out[n] = 0;
	assert_string_equal(out, "{\"time\":\"1970-01-01T00:00:00.000000000Z\",\"time_ns\":0,"
				 "\"stage\":null,\"use\":null,\"version\":null,\"plugin\":null,"
				 "\"output\":null,\"reason\":null,\"source\":null,\"event_id\":0,"
				 "\"record\":null,\"raw\":\"\"}\n");
	e.time_ns = 4107542400000000000ull; /* 2100-03-01: 2100 is not a leap year */
	n = sl_dlq_format(&e, out, sizeof(out));
	assert_non_null(strstr(out, "\"2100-03-01T00:00:00.000000000Z\""));
}

static void expect_error(const char *line, size_t offset, const char *msg)
{
	struct sl_dlq_entry e;
	struct sl_dlq_error err;

	assert_int_equal(sl_dlq_parse(line, strlen(line), &e, scratch, &err), -1);
	if (!strstr(err.msg, msg) || err.offset != offset)
		fail_msg("%s: got '%s' at %zu, want '%s' at %zu", line, err.msg, err.offset, msg,
			 offset);
}

static void test_reader_errors(void **state)
{
	expect_error("", 0, "expected '{'");
	expect_error("[1]", 0, "expected '{'");
	expect_error("{\"event_id\":1}", 14, "no raw or raw_base64");
	expect_error("{\"raw\":\"a\"}", 11, "no event_id");
	expect_error("{\"event_id\":1,\"raw\":\"a\",\"raw\":\"b\"}", 24, "duplicate key");
	expect_error("{\"event_id\":1,\"raw\":\"a\",\"raw_base64\":\"YQ==\"}", 0, "both raw");
	expect_error("{\"event_id\":-1,\"raw\":\"a\"}", 12, "unsigned integer");
	expect_error("{\"event_id\":1.5,\"raw\":\"a\"}", 12, "unsigned integer");
	expect_error("{\"event_id\":01,\"raw\":\"a\"}", 12, "leading zero");
	expect_error("{\"event_id\":18446744073709551616,\"raw\":\"a\"}", 12, "64 bits");
	expect_error("{\"event_id\":1,\"raw\":\"a\\q\"}", 22, "unknown escape");
	expect_error("{\"event_id\":1,\"raw\":\"a\\u12g4\"}", 22, "four hex digits");
	expect_error("{\"event_id\":1,\"raw\":\"\\udc00\"}", 21, "unpaired low");
	expect_error("{\"event_id\":1,\"raw\":\"\\ud800x\"}", 21, "unpaired high");
	expect_error("{\"event_id\":1,\"raw\":\"a\tb\"}", 22, "control byte");
	expect_error("{\"event_id\":1,\"raw\":\"\xc3(\"}", 21, "invalid UTF-8");
	expect_error("{\"event_id\":1,\"raw\":\"abc", 20, "not closed");
	expect_error("{\"event_id\":1,\"raw\":5}", 20, "raw: expected a string");
	expect_error("{\"event_id\":1,\"stage\":5,\"raw\":\"\"}", 22,
		     "stage: expected a string or null");
	expect_error("{\"event_id\":1,\"raw\":\"\"} x", 24, "bytes after the object");
	expect_error("{\"event_id\":1 \"raw\":\"\"}", 14, "expected ',' or '}'");
	expect_error("{\"event_id\" 1}", 12, "expected ':'");
	expect_error("{\"event_id\":1,\"raw_base64\":\"YQ=\"}", 27, "multiple of 4");
	expect_error("{\"event_id\":1,\"raw_base64\":\"Y=Q=\"}", 27, "not base64");
	expect_error("{\"event_id\":1,\"raw\":\"\",\"truncated\":1}", 35, "true or false");
	expect_error("{\"event_id\":1,\"raw\":\"\",\"x\":[1,}", 30, "expected a JSON value");
	expect_error("{\"event_id\":1,\"raw\":\"\",\"x\":01}", 28, "expected ',' or '}'");
	expect_error("{\"event_id\":1,\"raw\":\"\",\"x\":tru}", 27, "expected a JSON value");
	{
		char deep[200];
		int n = snprintf(deep, sizeof(deep), "{\"event_id\":1,\"raw\":\"\",\"x\":");

		for (int i = 0; i < SL_DLQ_MAX_DEPTH + 1; i++)
			deep[n++] = '[';
		deep[n] = 0;
		expect_error(deep, 27 + SL_DLQ_MAX_DEPTH - 1, "nested too deeply");
	}
}

static void test_reader_accepts(void **state)
{
	const char *line =
		" { \"x\" : {\"a\":[1,-2.5e+3,true,null,\"\\u00e9\"]}, \"event_id\" : 7 ,"
		"\"stage\":null,\"reason\":\"\\u00e9\\ud83d\\ude00\\n\","
		"\"raw_base64\":\"/w==\" , \"truncated\":false, \"future\":{}} ";
	struct sl_dlq_entry e;
	struct sl_dlq_error err;

	assert_int_equal(sl_dlq_parse(line, strlen(line), &e, scratch, &err), 0);
	assert_true(e.event_id == 7);
	assert_null(e.stage.p);
	assert_int_equal(e.reason.len, 7);
	assert_memory_equal(e.reason.p, "\xc3\xa9\xf0\x9f\x98\x80\n", 7);
	assert_int_equal(e.raw.len, 1);
	assert_int_equal((uint8_t)e.raw.p[0], 0xff);
	assert_false(e.truncated);
	assert_false(e.has_time);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_reader_accepts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
