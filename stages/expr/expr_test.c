/*
 * Unit test of the expression engine (expr.c): a table of conditions evaluated against
 * hand-built records with the truth value worked out by hand; a table of expressions with
 * the value each must compute (every operator, dotted paths into nested maps, functions,
 * regexes, type mismatches and missing fields); a table of malformed expressions with the
 * byte offset and message each must report; limits (integers, nesting, long chains).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "expr.h"

static uint8_t rec_a_buf[512], rec_b_buf[512];
static struct sl_rec rec_a, rec_b;
static const struct sl_rec rec_none = { NULL, 0 };
/* A map that claims 3 pairs but holds one: every lookup past the first fails. */
static const uint8_t rec_bad_buf[] = { 0x83, 0xa6, 's', 't', 'a', 't', 'u', 's', 0xcc, 200 };
static const struct sl_rec rec_bad = { rec_bad_buf, sizeof(rec_bad_buf) };

/*
 * rec_a: status 200, method "GET", path "/index.html", bytes 5120, ratio 0.5, neg -7,
 *        big 2^63 + 5 (uint64), flag true, "name-x.y" "a", empty "", "k" nil,
 *        q: it's "x"\ (9 bytes), "user.id" 42 (a flattened key),
 *        http: { status: 503, req: { method: "PUT", tags: ["a", "b", "c"] } },
 *        agent: "Mozilla/5.0 (X11) Firefox/118.0"
 * rec_b: status 503, method "POST", path "/api", bytes 0
 */
static void build_records(void)
{
	struct sl_rec_writer w;

	sl_rec_begin(&w, rec_a_buf, sizeof(rec_a_buf));
	sl_rec_put_int(&w, "status", 200);
	sl_rec_put_str(&w, "method", "GET", 3);
	sl_rec_put_str(&w, "path", "/index.html", 11);
	sl_rec_put_int(&w, "bytes", 5120);
	sl_rec_put_float(&w, "ratio", 0.5);
	sl_rec_put_int(&w, "neg", -7);
	sl_rec_key(&w, "big", 3);
	msgpack_pack_uint64(&w.pk, (1ull << 63) + 5);
	sl_rec_put_bool(&w, "flag", true);
	sl_rec_put_str(&w, "name-x.y", "a", 1);
	sl_rec_put_str(&w, "empty", "", 0);
	sl_rec_key(&w, "k", 1);
	msgpack_pack_nil(&w.pk);
	sl_rec_put_str(&w, "q", "it's \"x\"\\", 9);
	sl_rec_put_int(&w, "user.id", 42);
	sl_rec_key(&w, "http", 4);
	msgpack_pack_map(&w.pk, 2);
	msgpack_pack_str_with_body(&w.pk, "status", 6);
	msgpack_pack_int(&w.pk, 503);
	msgpack_pack_str_with_body(&w.pk, "req", 3);
	msgpack_pack_map(&w.pk, 2);
	msgpack_pack_str_with_body(&w.pk, "method", 6);
	msgpack_pack_str_with_body(&w.pk, "PUT", 3);
	msgpack_pack_str_with_body(&w.pk, "tags", 4);
	msgpack_pack_array(&w.pk, 3);
	msgpack_pack_str_with_body(&w.pk, "a", 1);
	msgpack_pack_str_with_body(&w.pk, "b", 1);
	msgpack_pack_str_with_body(&w.pk, "c", 1);
	sl_rec_put_str(&w, "agent", "Mozilla/5.0 (X11) Firefox/118.0", 31);
	rec_a.p = rec_a_buf;
	rec_a.len = sl_rec_end(&w);
	assert_true(rec_a.len > 0);

	sl_rec_begin(&w, rec_b_buf, sizeof(rec_b_buf));
	sl_rec_put_int(&w, "status", 503);
	sl_rec_put_str(&w, "method", "POST", 4);
	sl_rec_put_str(&w, "path", "/api", 4);
	sl_rec_put_int(&w, "bytes", 0);
	rec_b.p = rec_b_buf;
	rec_b.len = sl_rec_end(&w);
	assert_true(rec_b.len > 0);
}

static struct sl_expr *compile_ok(const char *src)
{
	struct sl_expr *e = NULL;
	uint32_t off = 0;
	char msg[240] = "";

	if (sl_expr_compile(src, 2, &e, &off, msg, sizeof(msg)) != 0)
		fail_msg("'%s' did not compile: %s at %u", src, msg, off);
	return e;
}

struct eval_case {
	const char *expr;
	bool a, b, none, bad; /* expected on rec_a, rec_b, no record, malformed record */
};

static const struct eval_case eval_cases[] = {
	/* integers, every operator, both sides */
	{ "status == 200", true, false, false, true },
	{ "status != 200", false, true, false, false },
	{ "status < 500", true, false, false, true },
	{ "status <= 200", true, false, false, true },
	{ "status > 200", false, true, false, false },
	{ "status >= 503", false, true, false, false },
	{ "500 <= status", false, true, false, false },
	{ "500 > status", true, false, false, true },
	{ "200 == status", true, false, false, true },
	{ "status>=200", true, true, false, true },
	{ "neg < 0", true, false, false, false },
	{ "neg == -7", true, false, false, false },
	{ "neg > -8", true, false, false, false },
	{ "bytes>-1", true, true, false, false },
	/* uint64 above INT64_MAX is read as a float; floats and integers compare exactly */
	{ "big > 9223372036854775807", true, false, false, false },
	{ "big > 9223372036854775806", true, false, false, false },
	{ "big < 9223372036854775807", false, false, false, false },
	{ "big == 5", false, false, false, false },
	{ "big != 5", true, false, false, false },
	/* floats against integer literals */
	{ "ratio < 1", true, false, false, false },
	{ "ratio > 0", true, false, false, false },
	{ "ratio == 0", false, false, false, false },
	/* strings: equality, order (bytewise, shorter first), quotes, escapes */
	{ "method == \"GET\"", true, false, false, false },
	{ "method == 'GET'", true, false, false, false },
	{ "method != 'GET'", false, true, false, false },
	{ "method < 'POST'", true, false, false, false },
	{ "method < 'GETX'", true, false, false, false },
	{ "method > 'GE'", true, true, false, false },
	{ "method >= 'POST'", false, true, false, false },
	{ "'GET' == method", true, false, false, false },
	{ "path == \"/index.html\"", true, false, false, false },
	{ "path <= '/api'", false, true, false, false },
	{ "empty == ''", true, false, false, false },
	{ "empty < 'a'", true, false, false, false },
	{ "name-x.y == 'a'", true, false, false, false }, /* the whole path as one key */
	{ "path == '/index.html\\n'", false, false, false, false },
	{ "q == 'it\\'s \"x\"\\\\'", true, false, false, false },
	{ "q != \"it's \\\"x\\\"\\\\\"", false, false, false, false },
	{ "method == \"GE\\\"T\"", false, false, false, false },
	/* type mismatch and missing fields are false whatever the operator */
	{ "status == '200'", false, false, false, false },
	{ "status != '200'", false, false, false, false },
	{ "method == 1", false, false, false, false },
	{ "method != 1", false, false, false, false },
	{ "flag == 1", false, false, false, false },
	{ "k == 0", false, false, false, false },
	{ "k != 0", true, false, false, false }, /* null is a value, and not 0 */
	{ "k == null", true, true, true, true }, /* missing is null too */
	{ "missing == null", true, true, true, true },
	{ "missing != null", false, false, false, false },
	{ "status != null", true, true, false, true },
	{ "missing == 1", false, false, false, false },
	{ "missing != 1", false, false, false, false },
	{ "not missing == 1", true, true, true, true },
	/* and, or, not, precedence, parentheses */
	{ "status == 200 and method == 'GET'", true, false, false, false },
	{ "status == 200 and method == 'POST'", false, false, false, false },
	{ "status == 200 or method == 'POST'", true, true, false, true },
	{ "status == 1 or status == 2 or status == 503", false, true, false, false },
	{ "status == 1 or status == 2 or status == 200", true, false, false, true },
	{ "status > 0 and bytes > 0 and path == '/index.html'", true, false, false, false },
	{ "not status == 200", false, true, true, false },
	{ "not not status == 200", true, false, false, true },
	{ "not (status == 200 or status == 503)", false, false, true, false },
	{ "status == 503 or status == 200 and method == 'POST'", false, true, false, false },
	{ "(status == 503 or status == 200) and method == 'POST'", false, true, false, false },
	{ "status == 200 and not method == 'POST'", true, false, false, true },
	{ "not status == 200 and method == 'POST'", false, true, false, false },
	{ "not (status == 200) or bytes == 0", false, true, true, false },
	{ "((((status == 200))))", true, false, false, true },
	{ "(status == 200 or status == 201) and (method == 'GET' or method == 'HEAD')", true, false,
	  false, false },
	{ "status == 1 or (status == 2 or (bytes == 0 and path == '/api'))", false, true, false,
	  false },
	{ "  status\t==\n200  ", true, false, false, true },
};

static void test_eval_table(void **unused)
{
	struct sl_rec recs[4];

	build_records();
	recs[0] = rec_a;
	recs[1] = rec_b;
	recs[2] = rec_none;
	recs[3] = rec_bad;
	for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
		const struct eval_case *t = &eval_cases[i];
		const bool want[4] = { t->a, t->b, t->none, t->bad };
		struct sl_expr *e = compile_ok(t->expr);

		for (int r = 0; r < 4; r++) {
			if (sl_expr_test(e, recs[r], (unsigned)r) != want[r])
				fail_msg("'%s' on record %d: expected %s", t->expr, r,
					 want[r] ? "true" : "false");
			if (sl_expr_test_slow(e, recs[r], 0) != want[r])
				fail_msg("'%s' on record %d (program): expected %s", t->expr, r,
					 want[r] ? "true" : "false");
		}
		sl_expr_destroy(e);
	}
}

/* Values: "i:N", "f:X" (printed %.17g), "s:TEXT", "b:true", "null", "missing", "other". */
struct value_case {
	const char *expr;
	const char *want; /* on rec_a */
};

static const struct value_case value_cases[] = {
	/* literals */
	{ "1", "i:1" },
	{ "-9223372036854775808", "i:-9223372036854775808" },
	{ "2.5", "f:2.5" },
	{ "1e3", "f:1000" },
	{ "-1.5e-1", "f:-0.14999999999999999" },
	{ "'x'", "s:x" },
	{ "true", "b:true" },
	{ "false", "b:false" },
	{ "null", "null" },
	/* fields and dotted paths */
	{ "status", "i:200" },
	{ "ratio", "f:0.5" },
	{ "flag", "b:true" },
	{ "k", "null" },
	{ "nope", "missing" },
	{ "big", "f:9.2233720368547758e+18" },
	{ "http", "other" },
	{ "http.status", "i:503" },
	{ "http.req.method", "s:PUT" },
	{ "http.req.tags", "other" },
	{ "http.req.nope", "missing" },
	{ "http.status.x", "missing" }, /* not a map */
	{ "status.x", "missing" },
	{ "user.id", "i:42" }, /* a flattened key, found whole */
	{ "name-x.y", "s:a" },
	/* arithmetic: integers stay integers, / is always a float division */
	{ "status + 1", "i:201" },
	{ "status - 250", "i:-50" },
	{ "status * 3", "i:600" },
	{ "status / 8", "f:25" },
	{ "7 / 2", "f:3.5" },
	{ "status % 7", "i:4" },
	{ "-7 % 3", "i:-1" },
	{ "7 % -3", "i:1" },
	{ "neg % 3", "i:-1" },
	{ "ratio * 4", "f:2" },
	{ "ratio + 1", "f:1.5" },
	{ "5.5 % 2", "f:1.5" },
	{ "1 + 2 * 3", "i:7" },
	{ "(1 + 2) * 3", "i:9" },
	{ "10 - 2 - 3", "i:5" },
	{ "2 * -status", "i:-400" },
	{ "- - 3", "i:3" },
	{ "-neg", "i:7" },
	{ "-ratio", "f:-0.5" },
	{ "http.status - status", "i:303" },
	{ "status / 0", "missing" },
	{ "status % 0", "missing" },
	{ "ratio / 0", "missing" },
	{ "9223372036854775807 + 1", "missing" },
	{ "-9223372036854775808 - 1", "missing" },
	{ "-9223372036854775808 * -1", "missing" },
	{ "-9223372036854775808 % -1", "i:0" },
	{ "method + 1", "missing" },
	{ "nope + 1", "missing" },
	{ "-method", "missing" },
	{ "flag * 2", "missing" },
	/* comparisons */
	{ "status + 300 >= 500", "b:true" },
	{ "bytes / status > 25.5", "b:true" },
	{ "bytes / status == 25.6", "b:true" },
	{ "ratio == 0.5", "b:true" },
	{ "1 == 1.0", "b:true" },
	{ "'a' < 'b'", "b:true" },
	{ "'b' <= 'a'", "b:false" },
	{ "true == true", "b:true" },
	{ "flag == false", "b:false" },
	{ "flag != false", "b:true" },
	{ "null == null", "b:true" },
	{ "http == http", "b:false" }, /* maps compare with nothing */
	{ "status == status", "b:true" },
	{ "method < path", "b:false" },
	{ "path < method", "b:true" },
	/* and, or, not give booleans; anything but true is not true */
	{ "status and flag", "b:false" },
	{ "flag and flag", "b:true" },
	{ "nope or flag", "b:true" },
	{ "not nope", "b:true" },
	{ "not flag", "b:false" },
	{ "not status", "b:true" },
	/* in */
	{ "status in [200, 404]", "b:true" },
	{ "status in [404, 500]", "b:false" },
	{ "status not in [404, 500]", "b:true" },
	{ "status not in [200]", "b:false" },
	{ "method in ['PUT', 'GET']", "b:true" },
	{ "ratio in [0.5]", "b:true" },
	{ "status in [200.0]", "b:true" },
	{ "neg in [-7, 7]", "b:true" },
	{ "k in [null]", "b:true" },
	{ "nope in [1, null]", "b:true" },
	{ "nope in [1, 2]", "b:false" },
	{ "nope not in [1, 2]", "b:false" },
	{ "flag in [true]", "b:true" },
	{ "status in ['200']", "b:false" },
	{ "status in []", "b:false" },
	{ "http.req.method in ['PUT']", "b:true" },
	/* string functions */
	{ "prefix(path, '/index')", "b:true" },
	{ "prefix(path, '/api')", "b:false" },
	{ "prefix(path, '')", "b:true" },
	{ "suffix(path, '.html')", "b:true" },
	{ "suffix(path, 'x.html.long.long.long')", "b:false" },
	{ "contains(agent, 'X11')", "b:true" },
	{ "contains(agent, 'Chrome')", "b:false" },
	{ "contains(empty, '')", "b:true" },
	{ "prefix(status, '2')", "b:false" },
	{ "prefix(nope, '')", "b:false" },
	{ "lower(method)", "s:get" },
	{ "upper(path)", "s:/INDEX.HTML" },
	{ "lower(agent) == 'mozilla/5.0 (x11) firefox/118.0'", "b:true" },
	{ "contains(lower(agent), 'firefox')", "b:true" },
	{ "lower(status)", "missing" },
	{ "len(path)", "i:11" },
	{ "len(empty)", "i:0" },
	{ "len(http)", "i:2" },
	{ "len(http.req.tags)", "i:3" },
	{ "len(status)", "missing" },
	{ "len(nope)", "missing" },
	{ "len(path) * 2 + 1", "i:23" },
	/* epoch_ns: expected values from Python (calendar.timegm of the UTC time tuple) */
	{ "epoch_ns('10/Oct/2023:13:55:36 +0200')", "i:1696938936000000000" },
	{ "epoch_ns('2023-10-10T11:55:36.25Z')", "i:1696938936250000000" },
	{ "epoch_ns('31/Dec/1969:23:59:59 -0130')", "i:5399000000000" },
	{ "epoch_ns('10/Oct/2023:13:55:36')", "missing" },
	{ "epoch_ns(path)", "missing" },
	{ "epoch_ns(status)", "missing" },
	{ "lower(http.req.method) == 'put' and len(q) == 9", "b:true" },
	/* regular expressions */
	{ "agent matches 'Firefox/[0-9]+'", "b:true" },
	{ "agent =~ '^Mozilla'", "b:true" },
	{ "agent =~ '^Firefox'", "b:false" },
	{ "agent !~ '^Firefox'", "b:true" },
	{ "agent !~ 'X11'", "b:false" },
	{ "status =~ '200'", "b:false" },
	{ "status !~ '200'", "b:false" }, /* not a string: neither matches nor fails to */
	{ "path =~ '\\.html$'", "b:true" },
	{ "empty =~ '^$'", "b:true" },
	{ "path =~ '\\.html$'", "b:true" }, /* an unknown escape keeps its backslash */
	{ "'a\\qb'", "s:a\\qb" },
	{ "'\\d\\\\d'", "s:\\d\\d" },
	{ "lower(agent) matches 'firefox' and status < 300", "b:true" },
	{ "http.req.method =~ '^P'", "b:true" },
};

static void value_text(const struct sl_expr_value *v, char *buf, size_t len)
{
	switch (v->type) {
	case SL_EXPR_INT:
		snprintf(buf, len, "i:%lld", (long long)v->i);
		break;
	case SL_EXPR_FLOAT:
		snprintf(buf, len, "f:%.17g", v->f);
		break;
	case SL_EXPR_STR:
		snprintf(buf, len, "s:%.*s", (int)v->s.len, v->s.p);
		break;
	case SL_EXPR_BOOL:
		snprintf(buf, len, "b:%s", v->b ? "true" : "false");
		break;
	case SL_EXPR_NULL:
		snprintf(buf, len, "null");
		break;
	case SL_EXPR_MISSING:
		snprintf(buf, len, "missing");
		break;
	default:
		snprintf(buf, len, "other");
		break;
	}
}

static void test_value_table(void **unused)
{
	build_records();
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *t = &value_cases[i];
		struct sl_expr *e = compile_ok(t->expr);
		struct sl_expr_value v;
		char got[128];

		sl_expr_eval(e, rec_a, 1, &v);
		value_text(&v, got, sizeof(got));
		if (strcmp(got, t->want) != 0)
			fail_msg("'%s': got %s, expected %s", t->expr, got, t->want);
		sl_expr_destroy(e);
	}
}

/* The kind the compiler works out before any record is seen. */
static void test_result_kind(void **unused)
{
	static const struct {
		const char *expr;
		enum sl_expr_kind kind;
	} cases[] = {
		{ "status", SL_EXPR_KIND_ANY },	   { "status + 1", SL_EXPR_KIND_NUM },
		{ "'a'", SL_EXPR_KIND_STR },	   { "lower(x)", SL_EXPR_KIND_STR },
		{ "len(x)", SL_EXPR_KIND_NUM },	   { "x == 1", SL_EXPR_KIND_BOOL },
		{ "x in [1]", SL_EXPR_KIND_BOOL }, { "x =~ 'a'", SL_EXPR_KIND_BOOL },
		{ "null", SL_EXPR_KIND_NULL },	   { "a or b", SL_EXPR_KIND_BOOL },
		{ "(x)", SL_EXPR_KIND_ANY },	   { "prefix(x, 'a')", SL_EXPR_KIND_BOOL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_expr *e = compile_ok(cases[i].expr);

		if (sl_expr_result_kind(e) != cases[i].kind)
			fail_msg("'%s': kind %d, expected %d", cases[i].expr,
				 sl_expr_result_kind(e), cases[i].kind);
		sl_expr_destroy(e);
	}
}

/* Projection: the top-level fields read, each once. */
static void test_fields(void **unused)
{
	struct sl_expr *e = compile_ok("a == 1 and b.c.d > 2 or a < 3 and lower(b.x) == 'y'");
	const char *const *f = sl_expr_fields(e);

	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "b.c.d");
	assert_string_equal(f[2], "b");
	assert_string_equal(f[3], "b.x");
	assert_null(f[4]);
	sl_expr_destroy(e);
}

struct error_case {
	const char *expr;
	uint32_t offset;
	const char *msg; /* substring of the message */
};

static const struct error_case error_cases[] = {
	{ "", 0, "empty expression" },
	{ "   ", 0, "empty expression" },
	{ "status >= ", 10, "expected a value after '>='" },
	{ "status >=", 9, "expected a value after '>='" },
	{ "status == and", 10, "expected a value, found 'and'" },
	{ "status = 5", 7, "unknown operator '='" },
	{ "status => 5", 7, "unknown operator '=>'" },
	{ "status <> 5", 7, "unknown operator '<>'" },
	{ "status === 5", 7, "unknown operator '==='" },
	{ "status ! 5", 7, "unknown operator '!'" },
	{ "(status == 5", 0, "unbalanced parenthesis" },
	{ "status == 5)", 11, "unbalanced parenthesis" },
	{ "((status == 5)", 0, "unbalanced parenthesis" },
	{ "(status == 5 status", 13, "expected an operator or ')'" },
	{ "status == 5 method", 12, "expected an operator or the end" },
	{ "status 5", 7, "expected an operator or the end" },
	{ "status == 5 and", 15, "expected a value after 'and'" },
	{ "and status == 5", 0, "expected a value, found 'and'" },
	{ "method == 'GET", 10, "unterminated string" },
	{ "method == \"GET\\", 10, "unterminated string" },
	{ "status == 99999999999999999999", 10, "integer out of range" },
	{ "status == 9223372036854775808", 10, "integer out of range" },
	{ "status == 5xx", 10, "malformed number" },
	{ "status == 1.5.2", 10, "malformed number" },
	{ "status == 5 && method == 'GET'", 12, "unexpected character '&'" },
	{ "status == 5 or", 14, "expected a value after 'or'" },
	{ "not", 3, "expected a value after 'not'" },
	{ "()", 1, "unbalanced parenthesis: ')' without '('" },
	{ "status == -", 11, "expected a value after '-'" },
	{ "$x == 1", 0, "unexpected character '$'" },
	{ "status == 1e999", 10, "number out of range" },
	/* types the compiler can see */
	{ "status == '5' + 1", 14, "'+' needs numbers on its left, got a string" },
	{ "1 + 'a'", 4, "'+' needs numbers on its right, got a string" },
	{ "-'a'", 0, "'-' needs numbers, got a string" },
	{ "'a' < 1", 4, "'<' compares a string with a number" },
	{ "1 == 'a'", 2, "'==' compares a number with a string" },
	{ "true < false", 5, "'<' orders numbers or strings, not true/false" },
	{ "x > null", 2, "'>' orders numbers or strings, not null" },
	{ "1 and x", 2, "'and' needs true/false on its left, got a number" },
	{ "x or 'a'", 5, "'or' needs true/false on its right, got a string" },
	{ "not 5", 0, "'not' needs true/false, got a number" },
	{ "prefix(1, 'a')", 7, "prefix needs strings, got a number" },
	{ "lower(x == 1)", 6, "lower needs strings, got true/false" },
	{ "len(5)", 4, "len() needs a string or a field, got a number" },
	{ "epoch_ns(5)", 9, "epoch_ns() needs a string or a field, got a number" },
	{ "5 =~ 'a'", 2, "a regular expression match needs strings, got a number" },
	/* functions, lists, regexes */
	{ "foo(x)", 0, "unknown function 'foo'" },
	{ "prefix(x)", 8, "prefix() takes 2 arguments" },
	{ "lower(x, y)", 9, "lower() takes 1 argument" },
	{ "len()", 4, "len() takes 1 argument" },
	{ "lower(x", 5, "'(' is never closed" },
	{ "prefix(x y)", 9, "expected ',' or ')' in prefix()" },
	{ "x in 1", 5, "expected '[' after 'in'" },
	{ "x in [1, y]", 9, "holds literals" },
	{ "x in [1, 2", 10, "'[' is never closed" },
	{ "x in [1 2]", 8, "expected ',' or ']'" },
	{ "x not 5", 2, "expected 'in' after 'not'" },
	{ "x =~ y", 5, "expected a regular expression in quotes" },
	{ "x =~ 'a(b'", 9, "regular expression: missing closing parenthesis" },
	{ "x matches '[z-a]'", 14, "regular expression: range out of order" },
	{ "a..b == 1", 2, "empty part in field path 'a..b'" },
	{ "a. == 1", 2, "empty part in field path" },
	{ "1 < x < 3", 6, "comparisons do not chain" },
	{ "x =! 1", 2, "unknown operator '=!'" },
};

static void test_error_table(void **unused)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *t = &error_cases[i];
		struct sl_expr *e = NULL;
		uint32_t off = 12345;
		char msg[240] = "";
		int rc = sl_expr_compile(t->expr, 1, &e, &off, msg, sizeof(msg));

		if (rc != -EINVAL)
			fail_msg("'%s' compiled (rc %d), expected an error", t->expr, rc);
		if (e)
			fail_msg("'%s': a failed compile returned an expression", t->expr);
		if (off != t->offset)
			fail_msg("'%s': offset %u, expected %u (%s)", t->expr, off, t->offset, msg);
		if (!strstr(msg, t->msg))
			fail_msg("'%s': message '%s' lacks '%s'", t->expr, msg, t->msg);
	}
}

static struct sl_rec one_int(uint8_t *buf, size_t len, int64_t x)
{
	struct sl_rec_writer w;
	struct sl_rec r;

	sl_rec_begin(&w, buf, (uint32_t)len);
	sl_rec_put_int(&w, "x", x);
	r.p = buf;
	r.len = sl_rec_end(&w);
	return r;
}

/* The inline `field OP integer` path at the ends of the integer range, and on fields that
 * are not integers (it must hand those to the program). */
static void test_fast_path(void **unused)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	static const int64_t consts[] = { INT64_MIN, INT64_MIN + 1, -1,	      0, 1,
					  500,	     INT64_MAX - 1, INT64_MAX };
	static const int64_t xs[] = { INT64_MIN, INT64_MIN + 1, -2,	  -1, 0, 1, 499, 500,
				      501,	 INT64_MAX - 1, INT64_MAX };
	uint8_t buf[64];

	for (size_t o = 0; o < 6; o++) {
		for (size_t c = 0; c < sizeof(consts) / sizeof(consts[0]); c++) {
			for (int flip = 0; flip < 2; flip++) {
				char src[128];
				struct sl_expr *e;

				if (flip)
					snprintf(src, sizeof(src), "%lld %s x",
						 (long long)consts[c], ops[o]);
				else
					snprintf(src, sizeof(src), "x %s %lld", ops[o],
						 (long long)consts[c]);
				e = compile_ok(src);
				assert_int_equal(((const struct sl_expr_head *)e)->fast,
						 SL_EXPR_FAST_INT_RANGE);
				for (size_t k = 0; k < sizeof(xs) / sizeof(xs[0]); k++) {
					int64_t a = flip ? consts[c] : xs[k];
					int64_t b = flip ? xs[k] : consts[c];
					bool want = o == 0   ? a == b
						    : o == 1 ? a != b
						    : o == 2 ? a < b
						    : o == 3 ? a <= b
						    : o == 4 ? a > b
							     : a >= b;
					struct sl_rec r = one_int(buf, sizeof(buf), xs[k]);

					if (sl_expr_test(e, r, 0) != want ||
					    sl_expr_test_slow(e, r, 0) != want)
						fail_msg("'%s' with x = %lld: expected %d", src,
							 (long long)xs[k], want);
				}
				sl_expr_destroy(e);
			}
		}
	}
	/* Not integers: floats go to the program, strings and missing fields are false. */
	{
		struct sl_expr *e = compile_ok("ratio < 1");

		build_records();
		assert_true(sl_expr_test(e, rec_a, 0));
		sl_expr_destroy(e);
		e = compile_ok("method != 1");
		assert_false(sl_expr_test(e, rec_a, 0));
		assert_false(sl_expr_test(e, rec_none, 0));
		sl_expr_destroy(e);
		e = compile_ok("big > 5");
		assert_true(sl_expr_test(e, rec_a, 0));
		sl_expr_destroy(e);
	}
}

static void test_int_limits(void **unused)
{
	struct sl_expr *e;
	uint32_t off;
	char msg[240];
	uint8_t buf[64];
	struct sl_rec r = one_int(buf, sizeof(buf), INT64_MIN);

	e = compile_ok("x == -9223372036854775808");
	assert_true(sl_expr_test(e, r, 0));
	sl_expr_destroy(e);
	e = compile_ok("x < -9223372036854775807");
	assert_true(sl_expr_test(e, r, 0));
	sl_expr_destroy(e);
	assert_int_equal(
		sl_expr_compile("x == -9223372036854775809", 1, &e, &off, msg, sizeof(msg)),
		-EINVAL);
	assert_int_equal(off, 6);
}

static void test_nesting_limit(void **unused)
{
	char src[512];
	struct sl_expr *e;
	uint32_t off;
	char msg[240];
	size_t n = 0;

	/* SL_EXPR_MAX_DEPTH parentheses compile; one more does not. */
	for (int i = 0; i < SL_EXPR_MAX_DEPTH; i++)
		src[n++] = '(';
	n += (size_t)sprintf(src + n, "a == 1");
	for (int i = 0; i < SL_EXPR_MAX_DEPTH; i++)
		src[n++] = ')';
	src[n] = '\0';
	assert_int_equal(sl_expr_compile(src, 1, &e, &off, msg, sizeof(msg)), 0);
	sl_expr_destroy(e);

	n = 0;
	for (int i = 0; i < SL_EXPR_MAX_DEPTH + 1; i++)
		src[n++] = '(';
	sprintf(src + n, "a == 1");
	assert_int_equal(sl_expr_compile(src, 1, &e, &off, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(off, SL_EXPR_MAX_DEPTH + 1);
	assert_non_null(strstr(msg, "nested too deeply"));
	/* as many not and minus signs */
	n = 0;
	for (int i = 0; i < SL_EXPR_MAX_DEPTH + 2; i++)
		n += (size_t)sprintf(src + n, "not ");
	sprintf(src + n, "a");
	assert_int_equal(sl_expr_compile(src, 1, &e, &off, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "nested too deeply"));
	/* values waiting for their operator: 1 + (1 + (1 + ...)) */
	n = 0;
	for (int i = 0; i < SL_EXPR_STACK; i++)
		n += (size_t)sprintf(src + n, "1+(");
	n += (size_t)sprintf(src + n, "1");
	for (int i = 0; i < SL_EXPR_STACK; i++)
		src[n++] = ')';
	src[n] = '\0';
	assert_int_equal(sl_expr_compile(src, 1, &e, &off, msg, sizeof(msg)), -EINVAL);
}

/* A long or-chain compiles to one program and short-circuits correctly at every link;
 * so does an and-chain. */
static void test_long_chain(void **unused)
{
	static char src[64 * 1024];
	struct sl_expr *e;
	uint8_t buf[64];
	size_t n = 0;

	for (int i = 0; i < 2000; i++)
		n += (size_t)sprintf(src + n, "%sx == %d", i ? " or " : "", i * 3);
	e = compile_ok(src);
	for (int v = 0; v < 6000; v += 7)
		assert_int_equal(sl_expr_test(e, one_int(buf, sizeof(buf), v), 0), v % 3 == 0);
	sl_expr_destroy(e);
	n = 0;
	for (int i = 0; i < 2000; i++)
		n += (size_t)sprintf(src + n, "%sx != %d", i ? " and " : "", i * 3);
	e = compile_ok(src);
	for (int v = 0; v < 6000; v += 7)
		assert_int_equal(sl_expr_test(e, one_int(buf, sizeof(buf), v), 0), v % 3 != 0);
	sl_expr_destroy(e);
}

/* lower() writes into the lcore's own buffer: two lcores keep their answers apart. */
static void test_lcore_buffers(void **unused)
{
	struct sl_expr *e = compile_ok("lower(method)");
	struct sl_expr_value a, b;

	build_records();
	sl_expr_eval(e, rec_a, 0, &a);
	sl_expr_eval(e, rec_b, 1, &b);
	assert_int_equal(a.type, SL_EXPR_STR);
	assert_int_equal(b.type, SL_EXPR_STR);
	assert_memory_equal(a.s.p, "get", 3);
	assert_memory_equal(b.s.p, "post", 4);
	/* lcore numbers wrap around the count given at compile time */
	sl_expr_eval(e, rec_a, 2, &a);
	assert_memory_equal(a.s.p, "get", 3);
	assert_memory_equal(b.s.p, "post", 4);
	sl_expr_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_table),  cmocka_unit_test(test_value_table),
		cmocka_unit_test(test_result_kind), cmocka_unit_test(test_fields),
		cmocka_unit_test(test_error_table), cmocka_unit_test(test_fast_path),
		cmocka_unit_test(test_int_limits),  cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_long_chain),  cmocka_unit_test(test_lcore_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
