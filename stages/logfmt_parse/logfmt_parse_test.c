/*
 * Unit test of logfmt_parse: the pure parser (parse.h) on valid lines (typed and untyped
 * values, quoting and escapes, bare keys, empty values, blanks, duplicates, bytes that are
 * not UTF-8), on one line per malformation, where a '|' in the case text marks the byte the
 * error offset must name, and on every writer size; then the stage's process() on mbufs
 * through the checks every parser stage shares (../json_parse/parse_test.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "../json_parse/parse_test.h"

static const struct sl_logfmt_conf typed = { .typed = true };
static const struct sl_logfmt_conf untyped = { .typed = false };

static uint8_t rec_buf[65536];

static struct sl_rec parse_ok(const struct sl_logfmt_conf *c, const char *line, size_t n)
{
	struct sl_rec_writer w;
	uint32_t off = 99999, len;
	int rc;

	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	rc = logfmt_parse_line(c, line, n, &w, &off);
	if (rc != SL_LOGFMT_OK)
		fail_msg("line '%s': %s at %u, expected success", line, sl_logfmt_err_names[rc],
			 off);
	len = sl_rec_end(&w);
	assert_true(len > 3);
	return (struct sl_rec){ rec_buf, len };
}

static void test_valid(void **unused)
{
	const char *l = "level=info msg=\"hello \\\"world\\\"\\n\\u00e9\" n=42 neg=-7 f=1.5 "
			"e=2e3 big=18446744073709551615 ok=true no=false debug t= "
			"url=/x?a=b&c=d v=1.2.3 z=007 q=\"42\" s=\"a b\"";
	const char *raw = "k=\xff\xfe v=\"\xe9t\xe9\"";
	struct sl_rec r;

	r = parse_ok(&typed, l, strlen(l));
	pt_keys(r, "level,msg,n,neg,f,e,big,ok,no,debug,t,url,v,z,q,s");
	pt_str(r, "level", "info", 4);
	pt_str(r, "msg", "hello \"world\"\n\xc3\xa9", 16);
	pt_int(r, "n", 42);
	pt_int(r, "neg", -7);
	assert_true(pt_field(r, "f", SL_VAL_FLOAT).f == 1.5);
	assert_true(pt_field(r, "e", SL_VAL_FLOAT).f == 2000.0);
	assert_true(pt_field(r, "big", SL_VAL_UINT).u == UINT64_MAX);
	assert_true(pt_field(r, "ok", SL_VAL_BOOL).b);
	assert_false(pt_field(r, "no", SL_VAL_BOOL).b);
	assert_true(pt_field(r, "debug", SL_VAL_BOOL).b);
	pt_str(r, "t", "", 0);
	pt_str(r, "url", "/x?a=b&c=d", 10);
	pt_str(r, "v", "1.2.3", 5);
	pt_str(r, "z", "007", 3); /* not a JSON number: a leading zero */
	pt_str(r, "q", "42", 2);  /* quoted: always a string */
	pt_str(r, "s", "a b", 3);

	r = parse_ok(&untyped, l, strlen(l));
	pt_str(r, "n", "42", 2);
	pt_str(r, "ok", "true", 4);
	assert_true(pt_field(r, "debug", SL_VAL_BOOL).b); /* a bare key is still true */

	/* blanks around and between, tabs, duplicates kept in order, bytes kept as they are */
	r = parse_ok(&typed, " \ta=1 \t a=2\t", 12);
	pt_keys(r, "a,a");
	r = parse_ok(&typed, raw, strlen(raw));
	pt_str(r, "k", "\xff\xfe", 2);
	pt_str(r, "v", "\xe9t\xe9", 3);
	/* keys may hold any byte but blanks, controls, '=' and '"' */
	r = parse_ok(&typed, "a.b-c/d:e[0]=1 \xc3\xa9=2", 19);
	pt_keys(r, "a.b-c/d:e[0],\xc3\xa9");
}

static int logfmt_one(const void *c, const char *line, size_t len, struct sl_rec_writer *w,
		      uint32_t *off)
{
	return logfmt_parse_line(c, line, len, w, off);
}

static const struct pt_bad_case bad_cases[] = {
	{ "|", SL_LOGFMT_EMPTY },
	{ " \t |", SL_LOGFMT_EMPTY },
	{ "|=x", SL_LOGFMT_BAD_KEY },
	{ "a=1 |=x", SL_LOGFMT_BAD_KEY },
	{ "a|\"b\"=1", SL_LOGFMT_BAD_KEY },
	{ "|\"a\"=1", SL_LOGFMT_BAD_KEY },
	{ "a|\x01=1", SL_LOGFMT_BAD_KEY },
	{ "a|\x7f", SL_LOGFMT_BAD_KEY },
	{ "a=|\"unterminated", SL_LOGFMT_BAD_QUOTE },
	{ "a=|\"x\\\"", SL_LOGFMT_BAD_QUOTE },
	{ "a=\"x\"|y b=1", SL_LOGFMT_BAD_QUOTE },
	{ "a=\"x\"|\"y\"", SL_LOGFMT_BAD_QUOTE },
	{ "a=\"|\\q\"", SL_LOGFMT_BAD_ESCAPE },
	{ "a=\"|\\u12\"", SL_LOGFMT_BAD_ESCAPE },
	{ "a=\"|\\ud800\"", SL_LOGFMT_BAD_ESCAPE },
	{ "a=\"x|\x01\"", SL_LOGFMT_BAD_VALUE },
	{ "a=b|\"c\"", SL_LOGFMT_BAD_VALUE },
	{ "a=b|\x01", SL_LOGFMT_BAD_VALUE },
	{ "a=b|\x7f", SL_LOGFMT_BAD_VALUE },
};

static void test_malformed(void **unused)
{
	pt_bad_cases(logfmt_one, &typed, bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]),
		     sl_logfmt_err_names, '"');
}

static void test_writer_sizes(void **unused)
{
	pt_writer_sizes(logfmt_one, &typed, "a=1 b=\"x\\ty\" c d=2.5 e=word");
}

static void test_stage(void **unused)
{
	static const char *const kv[] = { "typed=false", NULL };
	struct rte_mbuf *ev;
	char line[256];

	pt_setup("logfmt_parse", NULL);
	pt_common_checks("a=1 b=\"two\" c", "a=1 =2", "bad_key", 4, "b");
	memset(line, ' ', 200);
	memcpy(line, "k=", 2);
	memset(line + 2, 'v', 60);
	line[200] = '\0';
	pt_too_large(line);
	pt_teardown();

	pt_setup("logfmt_parse", kv);
	ev = pt_event(pt_pool, "n=1", 3, SL_EVENT_LINE);
	pt_run(&ev, 1);
	pt_str(sl_event_record(&pt_ctx, ev), "n", "1", 1);
	pt_free_out();
	pt_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_writer_sizes),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
