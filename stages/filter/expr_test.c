/*
 * Unit test of the filter expression language (expr.c): a table of expressions evaluated
 * against hand-built records with the expected truth value worked out by hand, and a table
 * of malformed expressions with the byte offset and message each must report.
 */
#include <errno.h>
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
 *        q: it's "x"\ (9 bytes)
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
	/* uint64 above INT64_MAX is above every integer literal */
	{ "big > 9223372036854775807", true, false, false, false },
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
	{ "name-x.y == 'a'", true, false, false, false },
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
	{ "k != 0", false, false, false, false },
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
		struct sl_expr *e = NULL;
		uint32_t off = 0;
		char msg[160] = "";
		int rc = sl_expr_compile(t->expr, &e, &off, msg, sizeof(msg));

		if (rc != 0)
			fail_msg("'%s' did not compile: %s at %u", t->expr, msg, off);
		for (int r = 0; r < 4; r++)
			if (sl_expr_eval(e, recs[r]) != want[r])
				fail_msg("'%s' on record %d: expected %s", t->expr, r,
					 want[r] ? "true" : "false");
		sl_expr_destroy(e);
	}
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
	{ "status == and", 10, "expected a value after '=='" },
	{ "status = 5", 7, "unknown operator '='" },
	{ "status => 5", 7, "unknown operator '=>'" },
	{ "status <> 5", 7, "unknown operator '<>'" },
	{ "status === 5", 7, "unknown operator '==='" },
	{ "status ! 5", 7, "unknown operator '!'" },
	{ "(status == 5", 0, "unbalanced parenthesis" },
	{ "status == 5)", 11, "unbalanced parenthesis" },
	{ "((status == 5)", 0, "unbalanced parenthesis" },
	{ "(status == 5 status", 13, "expected 'and', 'or' or ')'" },
	{ "status == 5 method", 12, "expected 'and', 'or' or the end" },
	{ "status", 6, "expected a comparison operator" },
	{ "status 5", 7, "expected a comparison operator" },
	{ "status == 5 and", 15, "expected a comparison at the end" },
	{ "and status == 5", 0, "expected a comparison" },
	{ "status == method", 10, "not a field name" },
	{ "1 == 2", 0, "needs a field name" },
	{ "'a' < 'b'", 0, "needs a field name" },
	{ "method == 'GET", 10, "unterminated string" },
	{ "method == \"GET\\", 10, "unterminated string" },
	{ "method == 'G\\qT'", 12, "unknown escape" },
	{ "status == 99999999999999999999", 10, "integer out of range" },
	{ "status == 9223372036854775808", 10, "integer out of range" },
	{ "status == 5xx", 10, "malformed number" },
	{ "status == 1.5", 10, "malformed number" },
	{ "status == 5 && method == 'GET'", 12, "unexpected character '&'" },
	{ "status == 5 or", 14, "expected a comparison at the end" },
	{ "not", 3, "expected a comparison at the end" },
	{ "()", 1, "expected a comparison" },
	{ "status == -", 10, "unexpected character '-'" },
	{ "$x == 1", 0, "unexpected character '$'" },
};

static void test_error_table(void **unused)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *t = &error_cases[i];
		struct sl_expr *e = NULL;
		uint32_t off = 12345;
		char msg[160] = "";
		int rc = sl_expr_compile(t->expr, &e, &off, msg, sizeof(msg));

		if (rc != -EINVAL)
			fail_msg("'%s' compiled (rc %d), expected an error", t->expr, rc);
		if (off != t->offset)
			fail_msg("'%s': offset %u, expected %u (%s)", t->expr, off, t->offset, msg);
		if (!strstr(msg, t->msg))
			fail_msg("'%s': message '%s' lacks '%s'", t->expr, msg, t->msg);
	}
}

static void test_int_limits(void **unused)
{
	struct sl_expr *e;
	uint32_t off;
	char msg[160];
	uint8_t buf[64];
	struct sl_rec_writer w;
	struct sl_rec r;

	sl_rec_begin(&w, buf, sizeof(buf));
	sl_rec_put_int(&w, "x", INT64_MIN);
	r.p = buf;
	r.len = sl_rec_end(&w);
	assert_int_equal(sl_expr_compile("x == -9223372036854775808", &e, &off, msg, sizeof(msg)),
			 0);
	assert_true(sl_expr_eval(e, r));
	sl_expr_destroy(e);
	assert_int_equal(sl_expr_compile("x < -9223372036854775807", &e, &off, msg, sizeof(msg)),
			 0);
	assert_true(sl_expr_eval(e, r));
	sl_expr_destroy(e);
	assert_int_equal(sl_expr_compile("x == -9223372036854775809", &e, &off, msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(off, 5);
}

static void test_nesting_limit(void **unused)
{
	char src[512];
	struct sl_expr *e;
	uint32_t off;
	char msg[160];
	size_t n = 0;

	/* SL_EXPR_MAX_DEPTH parentheses compile; one more does not. */
	for (int i = 0; i < SL_EXPR_MAX_DEPTH; i++)
		src[n++] = '(';
	n += (size_t)sprintf(src + n, "a == 1");
	for (int i = 0; i < SL_EXPR_MAX_DEPTH; i++)
		src[n++] = ')';
	src[n] = '\0';
	assert_int_equal(sl_expr_compile(src, &e, &off, msg, sizeof(msg)), 0);
	sl_expr_destroy(e);

	n = 0;
	for (int i = 0; i < SL_EXPR_MAX_DEPTH + 1; i++)
		src[n++] = '(';
	sprintf(src + n, "a == 1");
	assert_int_equal(sl_expr_compile(src, &e, &off, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(off, SL_EXPR_MAX_DEPTH + 1);
	assert_non_null(strstr(msg, "nested too deeply"));
}

/* A long or-chain compiles to one program and short-circuits correctly at every link. */
static void test_long_chain(void **unused)
{
	static char src[64 * 1024];
	struct sl_expr *e;
	uint32_t off;
	char msg[160];
	uint8_t buf[64];
	struct sl_rec_writer w;
	struct sl_rec r;
	size_t n = 0;

	for (int i = 0; i < 2000; i++)
		n += (size_t)sprintf(src + n, "%sx == %d", i ? " or " : "", i * 3);
	assert_int_equal(sl_expr_compile(src, &e, &off, msg, sizeof(msg)), 0);
	for (int v = 0; v < 6000; v += 7) {
		sl_rec_begin(&w, buf, sizeof(buf));
		sl_rec_put_int(&w, "x", v);
		r.p = buf;
		r.len = sl_rec_end(&w);
		assert_int_equal(sl_expr_eval(e, r), v % 3 == 0);
	}
	sl_expr_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_table), cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_int_limits), cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_long_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
