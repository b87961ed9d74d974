/*
 * Unit test of json_parse: the pure parser (parse.h) on valid lines (types, escapes,
 * surrogate pairs, flattening, nesting kept as maps, separators, depth and key limits,
 * integer and float edges), on one line per malformation, where a '|' in the case text
 * marks the byte the error offset must name (the marker is removed before parsing), and
 * on too small a writer; then the stage's process() on mbufs through the checks every
 * parser stage shares (parse_test.h) and a bad separator at init.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "parse_test.h"

static const struct sl_json_conf flat = { .flatten = true, .sep_len = 1, .sep = "." };
static const struct sl_json_conf nested = { .flatten = false, .sep_len = 1, .sep = "." };

static uint8_t rec_buf[65536];

static struct sl_rec parse_ok(const struct sl_json_conf *c, const char *line)
{
	struct sl_rec_writer w;
	uint32_t off = 99999, len;
	struct sl_val whole = { 0 };
	int rc;

	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	rc = json_parse_line(c, line, strlen(line), &w, &off);
	if (rc != SL_JSON_OK)
		fail_msg("line '%s': %s at %u, expected success", line, sl_json_err_names[rc], off);
	len = sl_rec_end(&w);
	assert_true(len >= 3);
	assert_non_null(sl_mp_read(rec_buf, rec_buf + len, &whole));
	assert_int_equal(whole.raw_len, len);
	return (struct sl_rec){ rec_buf, len };
}

static void test_types(void **unused)
{
	struct sl_rec r;
	struct sl_val v;

	r = parse_ok(&flat, " {\"i\": 42, \"n\": -7, \"z\": -0, \"f\": 1.5, \"e\": 1e3, "
			    "\"E\": -2.5E-3, \"t\": true, \"F\": false, \"u\": null, "
			    "\"s\": \"x\", \"a\": [1, \"two\", [], {}], \"o\": {}} \r");
	pt_keys(r, "i,n,z,f,e,E,t,F,u,s,a,o");
	pt_int(r, "i", 42);
	pt_int(r, "n", -7);
	pt_int(r, "z", 0);
	assert_true(pt_field(r, "f", SL_VAL_FLOAT).f == 1.5);
	assert_true(pt_field(r, "e", SL_VAL_FLOAT).f == 1000.0);
	assert_true(pt_field(r, "E", SL_VAL_FLOAT).f == -2.5e-3);
	assert_true(pt_field(r, "t", SL_VAL_BOOL).b);
	assert_false(pt_field(r, "F", SL_VAL_BOOL).b);
	pt_field(r, "u", SL_VAL_NIL);
	pt_str(r, "s", "x", 1);
	assert_int_equal(pt_field(r, "a", SL_VAL_ARRAY).n, 4);
	/* an empty object is kept, as an empty map under its name */
	assert_int_equal(pt_field(r, "o", SL_VAL_MAP).n, 0);

	/* integer edges: int64, uint64, then a float */
	r = parse_ok(&flat, "{\"a\":9223372036854775807,\"b\":-9223372036854775808,"
			    "\"c\":9223372036854775808,\"d\":18446744073709551615,"
			    "\"e\":18446744073709551616,\"f\":-9223372036854775809}");
	pt_int(r, "a", INT64_MAX);
	pt_int(r, "b", INT64_MIN);
	v = pt_field(r, "c", SL_VAL_UINT);
	assert_true(v.u == 9223372036854775808ull);
	v = pt_field(r, "d", SL_VAL_UINT);
	assert_true(v.u == UINT64_MAX);
	assert_true(pt_field(r, "e", SL_VAL_FLOAT).f == 18446744073709551616.0);
	assert_true(pt_field(r, "f", SL_VAL_FLOAT).f == -9223372036854775809.0);
	/* correctly rounded floats */
	r = parse_ok(&flat, "{\"a\":0.1,\"b\":2.2250738585072014e-308,\"c\":1.7976931348623157e308,"
			    "\"d\":5e-324,\"e\":-0.0}");
	assert_true(pt_field(r, "a", SL_VAL_FLOAT).f == 0.1);
	assert_true(pt_field(r, "b", SL_VAL_FLOAT).f == 2.2250738585072014e-308);
	assert_true(pt_field(r, "c", SL_VAL_FLOAT).f == 1.7976931348623157e308);
	assert_true(pt_field(r, "d", SL_VAL_FLOAT).f == 5e-324);
	assert_true(pt_field(r, "e", SL_VAL_FLOAT).f == 0.0);
}

static void test_strings(void **unused)
{
	char line[1024], want[600];
	struct sl_rec r;

	r = parse_ok(&flat,
		     "{\"q\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\"u\":\"\\u00e9\\u20AC\","
		     "\"p\":\"\\ud83d\\ude00!\",\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
		     "\"nul\":\"a\\u0000b\",\"k\\u0041\":1}");
	pt_str(r, "q", "a\"b\\c/d\b\f\n\r\t", 12);
	pt_str(r, "u", "\xc3\xa9\xe2\x82\xac", 5);
	pt_str(r, "p", "\xf0\x9f\x98\x80!", 5);
	pt_str(r, "raw", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	pt_str(r, "nul", "a\0b", 3);
	pt_int(r, "kA", 1);
	/* str8 and str16 headers; an escaped string whose unescaped length needs a shorter
	 * header than the escaped one (40 escapes of 2 bytes: 80 escaped, 40 unescaped) */
	memset(want, 'x', 300);
	snprintf(line, sizeof(line), "{\"a\":\"%.40s\",\"b\":\"%.300s\",\"c\":\"%s\"}", want, want,
		 "\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n"
		 "\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n");
	r = parse_ok(&flat, line);
	pt_str(r, "a", want, 40);
	pt_str(r, "b", want, 300);
	memset(want, '\n', 40);
	pt_str(r, "c", want, 40);
	assert_int_equal(pt_field(r, "c", SL_VAL_STR).raw_len, 2 + 40);
}

static void test_flatten(void **unused)
{
	static const struct sl_json_conf under = { .flatten = true, .sep_len = 2, .sep = "__" };
	struct sl_rec r;
	struct sl_val v, k;
	uint32_t pos;

	r = parse_ok(&flat, "{\"a\":{\"b\":{\"c\":1},\"d\":\"x\"},\"e\":[{\"f\":{\"g\":2}}],"
			    "\"h\":{},\"i\":{\"j\":{}}}");
	pt_keys(r, "a.b.c,a.d,e,h,i.j");
	pt_int(r, "a.b.c", 1);
	pt_str(r, "a.d", "x", 1);
	/* objects inside arrays stay maps */
	v = pt_field(r, "e", SL_VAL_ARRAY);
	assert_int_equal(v.n, 1);
	assert_int_equal(pt_field(r, "i.j", SL_VAL_MAP).n, 0);
	r = parse_ok(&under, "{\"a\":{\"b\":1}}");
	pt_keys(r, "a__b");
	/* an empty key is still a path part (regression: it once dropped the separator and
	 * the empty nested object) */
	r = parse_ok(&flat, "{\"\":{\"x\":1,\"\":2},\"e\":{\"\":{}}}");
	pt_keys(r, ".x,.,e.");
	assert_int_equal(pt_field(r, "e.", SL_VAL_MAP).n, 0);

	/* nested: kept as maps */
	r = parse_ok(&nested, "{\"a\":{\"b\":{\"c\":1},\"d\":\"x\"},\"e\":2}");
	pt_keys(r, "a,e");
	v = pt_field(r, "a", SL_VAL_MAP);
	assert_int_equal(v.n, 2);
	pos = 0;
	assert_true(sl_rec_next((struct sl_rec){ v.raw, v.raw_len }, &pos, &k, &v));
	assert_int_equal(k.s.len, 1);
	assert_memory_equal(k.s.p, "b", 1);
	assert_int_equal(v.type, SL_VAL_MAP);
	pt_int(r, "e", 2);
}

static void test_depth(void **unused)
{
	char line[512];
	struct sl_rec_writer w;
	uint32_t off;
	size_t n, opened, at;
	int rc;

	/* 32 levels, the top object included, parse; 33 do not (both modes, both kinds) */
	for (int mode = 0; mode < 2; mode++) {
		for (int arr = 0; arr < 2; arr++) {
			for (int d = 32; d <= 33; d++) {
				n = (size_t)snprintf(line, sizeof(line), "{\"k\":");
				for (int i = 1; i < d; i++)
					n += (size_t)snprintf(line + n, sizeof(line) - n, "%s",
							      arr ? "[" : "{\"k\":");
				line[n++] = '1';
				for (int i = 1; i < d; i++)
					line[n++] = arr ? ']' : '}';
				line[n++] = '}';
				/* where the 33rd bracket is */
				for (at = 0, opened = 0; at < n; at++)
					if ((line[at] == '{' || line[at] == '[') && ++opened == 33)
						break;
				sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
				off = 0;
				rc = json_parse_line(mode ? &nested : &flat, line, n, &w, &off);
				if (d == 32 && rc != SL_JSON_OK)
					fail_msg("depth 32: %s at %u: %.*s", sl_json_err_names[rc],
						 off, (int)n, line);
				if (d == 33) {
					assert_int_equal(rc, SL_JSON_TOO_DEEP);
					assert_int_equal(off, at);
				}
			}
		}
	}
}

static int json_one(const void *c, const char *line, size_t len, struct sl_rec_writer *w,
		    uint32_t *off)
{
	return json_parse_line(c, line, len, w, off);
}

static const struct pt_bad_case bad_cases[] = {
	{ "|", SL_JSON_NOT_OBJECT },
	{ "   |", SL_JSON_NOT_OBJECT },
	{ " |[1]", SL_JSON_NOT_OBJECT },
	{ "|\"a\"", SL_JSON_NOT_OBJECT },
	{ "|42", SL_JSON_NOT_OBJECT },
	{ "{|", SL_JSON_BAD_SYNTAX },
	{ "{|a:1}", SL_JSON_BAD_SYNTAX },
	{ "{|'a':1}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\"|}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\" |1}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":1,|}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":1 |\"b\":2}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":1|", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":[1,|]}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":[1 |2]}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":[|}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":0|1}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":1|.}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":1|.e5}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":1|e}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|-}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|+1}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|.5}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|tru}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|NaN}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|Infinity}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|'x'}", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":{\"b\":1}|", SL_JSON_BAD_SYNTAX },
	{ "{\"a\":|\"x", SL_JSON_BAD_STRING },
	{ "{\"a\":|\"x\\\"}", SL_JSON_BAD_STRING },
	{ "{|\"a", SL_JSON_BAD_STRING },
	{ "{\"a\":\"x|\ty\"}", SL_JSON_BAD_STRING },
	{ "{\"a\":\"x|\x01\"}", SL_JSON_BAD_STRING },
	{ "{\"a\":\"x|\\q\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"|\\u12x4\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"|\\u12\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"|\\ud800\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"|\\ud800x\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"|\\ud800\\u0041\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"|\\udc00\"}", SL_JSON_BAD_ESCAPE },
	{ "{\"a|\\x\":1}", SL_JSON_BAD_ESCAPE },
	{ "{\"a\":\"x|\xff\"}", SL_JSON_BAD_UTF8 },
	{ "{\"a\":\"x|\xc3\"}", SL_JSON_BAD_UTF8 },
	{ "{\"a\":\"|\xc0\xaf\"}", SL_JSON_BAD_UTF8 },
	{ "{\"a\":\"|\xed\xa0\x80\"}", SL_JSON_BAD_UTF8 },
	{ "{\"|\xe9\":1}", SL_JSON_BAD_UTF8 },
	{ "{\"a\":|1e400}", SL_JSON_BAD_NUMBER },
	{ "{\"a\":|-1e400}", SL_JSON_BAD_NUMBER },
	{ "{\"a\":1} |x", SL_JSON_TRAILING },
	{ "{\"a\":1}|{}", SL_JSON_TRAILING },
	{ "{\"a\":1}|}", SL_JSON_TRAILING },
};

static void test_malformed(void **unused)
{
	size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]);

	pt_bad_cases(json_one, &flat, bad_cases, n, sl_json_err_names, '}');
	pt_bad_cases(json_one, &nested, bad_cases, n, sl_json_err_names, '}');
}

static void test_limits(void **unused)
{
	char line[4096];
	struct sl_rec_writer w;
	uint32_t off = 0;
	int n, rc;

	/* a flattened key of exactly SL_JSON_KEY_MAX bytes fits; one more does not */
	n = snprintf(line, sizeof(line), "{\"");
	memset(line + n, 'k', 1000);
	n += 1000;
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\":{\"%.21s\":1}}",
		      "abcdefghijklmnopqrstuvwxyz");
	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	assert_int_equal(json_parse_line(&flat, line, (size_t)n, &w, &off), SL_JSON_OK);
	n = snprintf(line + 1006, sizeof(line) - 1006, "%.24s\":1}}", "abcdefghijklmnopqrstuvwxyz");
	n += 1006;
	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	assert_int_equal(json_parse_line(&flat, line, (size_t)n, &w, &off), SL_JSON_KEY_TOO_LONG);
	assert_int_equal(off, 1005);
	/* without flattening the same keys are fine */
	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	assert_int_equal(json_parse_line(&nested, line, (size_t)n, &w, &off), SL_JSON_OK);
	/* a number text over 127 bytes */
	n = snprintf(line, sizeof(line), "{\"a\":1.");
	memset(line + n, '1', 130);
	n += 130;
	line[n++] = '}';
	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	assert_int_equal(json_parse_line(&flat, line, (size_t)n, &w, &off), SL_JSON_BAD_NUMBER);
	assert_int_equal(off, 5);

	/* every writer size; a syntax error after a string that did not fit is still found */
	pt_writer_sizes(json_one, &flat,
			"{\"s\":\"a\\nb\\u00e9\",\"o\":{\"x\":[1,2.5,null]},\"t\":true}");
	{
		uint8_t small[8];

		sl_rec_begin(&w, small, 8);
		rc = json_parse_line(&flat, "{\"s\":\"a\\nbcdefghijkl\",\"x\":\"\\q\"}", 31, &w,
				     &off);
		assert_int_equal(rc, SL_JSON_BAD_ESCAPE);
		assert_int_equal(off, 27);
	}
}

static void test_stage(void **unused)
{
	static const char *const kv[] = { "flatten=false", NULL };
	struct sl_error err;
	void *c = NULL;
	struct rte_mbuf *ev;
	char line[256];

	pt_setup("json_parse", NULL);
	pt_common_checks("{\"a\":{\"b\":1}}", "{\"a\":1,}", "bad_syntax", 7, "a.b");
	/* 200 bytes of line, a record larger than the 53 bytes left */
	memset(line, ' ', 200);
	memcpy(line, "{\"k\":\"", 6);
	memset(line + 6, 'v', 60);
	memcpy(line + 66, "\"}", 2);
	line[200] = '\0';
	pt_too_large(line);
	pt_teardown();

	pt_setup("json_parse", kv);
	ev = pt_event(pt_pool, "{\"a\":{\"b\":1}}", 13, SL_EVENT_LINE);
	pt_run(&ev, 1);
	assert_int_equal(pt_out.n[0], 1);
	assert_int_equal(pt_field(sl_event_record(&pt_ctx, ev), "a", SL_VAL_MAP).n, 1);
	pt_free_out();
	pt_teardown();

	/* a separator must be 1 to 8 bytes */
	{
		static const char *const bad[] = { "separator=123456789", NULL };
		assert_int_not_equal(pt_init_args(bad, &err, &c), 0);
		assert_string_equal(err.key, "separator");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),	  cmocka_unit_test(test_strings),
		cmocka_unit_test(test_flatten),	  cmocka_unit_test(test_depth),
		cmocka_unit_test(test_malformed), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
