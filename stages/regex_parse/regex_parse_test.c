/*
 * Unit test of regex_parse: the configuration (compile errors with PCRE2's offset, no named
 * group, bad types items) and the matcher (parse.h) on lines: fields in group order,
 * groups that did not take part left out, every type (int, float, bool, rfc3339, clf) with
 * its failure offset, no match, a match limit, every writer size; then the stage's
 * process() on mbufs through the checks every parser stage shares
 * (../json_parse/parse_test.h) and each replica's lcore using its own match data.
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

static uint8_t rec_buf[65536];

static struct sl_regex_conf *make(const char *pattern, const char *const *types, uint32_t n)
{
	struct sl_regex_conf *c = NULL;
	const char *key;
	uint32_t off;
	char msg[240];

	if (regex_conf_create(pattern, types, n, 2, &c, &key, &off, msg, sizeof(msg)) != 0)
		fail_msg("pattern '%s': %s: %s at %u", pattern, key ? key : "", msg, off);
	return c;
}

static void test_conf_errors(void **unused)
{
	static const struct {
		const char *pattern, *types, *key, *msg;
		uint32_t offset;
	} cases[] = {
		{ "(?<a>x", NULL, "pattern", "missing closing parenthesis", 6 },
		{ "(?<a>[x)", NULL, "pattern", "missing terminating ]", 8 },
		{ "(?<a>x)(?<a>y)", NULL, "pattern", "two named subpatterns have the same name",
		  12 },
		{ "(?<a>x)*+*", NULL, "pattern", "quantifier does not follow", 9 },
		{ "x+", NULL, "pattern", "no named group", 0 },
		{ "(?<a>x)", "a", "types", "expected name:type", 0 },
		{ "(?<a>x)", "a:integer", "types", "unknown type 'integer'", 0 },
		{ "(?<a>x)", "b:int", "types", "no group named 'b'", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_regex_conf *c = NULL;
		const char *key = NULL;
		const char *types[1] = { cases[i].types };
		uint32_t off = 99;
		char msg[240] = "";
		int rc = regex_conf_create(cases[i].pattern, types, cases[i].types ? 1 : 0, 1, &c,
					   &key, &off, msg, sizeof(msg));

		if (rc != -EINVAL || !key || strcmp(key, cases[i].key) != 0 ||
		    !strstr(msg, cases[i].msg) || off != cases[i].offset)
			fail_msg("case %zu '%s': rc %d key %s offset %u msg '%s'", i,
				 cases[i].pattern, rc, key ? key : "(null)", off, msg);
		assert_null(c);
	}
}

static int match(const struct sl_regex_conf *c, const char *line, struct sl_rec *r, uint32_t *off)
{
	struct sl_rec_writer w;
	int rc;

	sl_rec_begin(&w, rec_buf, sizeof(rec_buf));
	*off = 99999;
	rc = regex_parse_line(c, c->md[0], line, strlen(line), &w, off);
	if (rc == SL_REGEX_OK)
		*r = (struct sl_rec){ rec_buf, sl_rec_end(&w) };
	return rc;
}

static void test_match(void **unused)
{
	static const char *const types[] = { "n:int", "f:float", "b:bool", "t:rfc3339", "c:clf" };
	struct sl_regex_conf *c;
	struct sl_rec r;
	uint32_t off;

	/* fields in group order; an unset group is left out; plain groups are not fields */
	c = make("^(?<z>\\w+) (x)?(?<a>\\d+)?(?:-(?<m>\\w+))?", NULL, 0);
	assert_int_equal(match(c, "hello 42-x tail", &r, &off), 0);
	pt_keys(r, "z,a,m");
	pt_str(r, "z", "hello", 5);
	pt_str(r, "a", "42", 2);
	assert_int_equal(match(c, "hello -y", &r, &off), 0);
	pt_keys(r, "z,m");
	assert_int_equal(match(c, "!", &r, &off), SL_REGEX_NO_MATCH);
	assert_int_equal(off, 0);
	/* an empty group is an empty string; unanchored patterns search */
	regex_conf_destroy(c);
	c = make("k=(?<v>[^ ]*)", NULL, 0);
	assert_int_equal(match(c, "a b k= c", &r, &off), 0);
	pt_str(r, "v", "", 0);
	regex_conf_destroy(c);

	c = make("^(?<n>\\S*) (?<f>\\S*) (?<b>\\S*) (?<t>\\S*) \\[(?<c>[^\\]]*)\\] (?<s>.*)$",
		 types, 5);
	assert_int_equal(match(c,
			       "-42 2.5e3 true 2003-10-11T22:14:15.003Z "
			       "[10/Oct/2023:13:55:36 +0200] rest",
			       &r, &off),
			 0);
	pt_keys(r, "n,f,b,t,c,s");
	pt_int(r, "n", -42);
	assert_true(pt_field(r, "f", SL_VAL_FLOAT).f == 2500.0);
	assert_true(pt_field(r, "b", SL_VAL_BOOL).b);
	pt_int(r, "t", 1065910455003000000);
	pt_int(r, "c", 1696938936000000000); /* 2023-10-10T11:55:36Z */
	pt_str(r, "s", "rest", 4);
	/* a float group takes an integer's text as a float */
	assert_int_equal(
		match(c, "1 7 false 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 -0100] x", &r, &off),
		0);
	assert_true(pt_field(r, "f", SL_VAL_FLOAT).f == 7.0);
	assert_false(pt_field(r, "b", SL_VAL_BOOL).b);
	pt_int(r, "t", 0);
	pt_int(r, "c", 3600000000000);
	/* each type's failure names the group's first byte */
	{
		static const struct {
			const char *line;
			uint32_t off;
		} bad[] = {
			{ "1.5 1 true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +0000] x", 0 },
			{ "x 1 true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +0000] x", 0 },
			{ " 1 true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +0000] x", 0 },
			{ "9223372036854775808 1 true 1970-01-01T00:00:00Z "
			  "[01/Jan/1970:00:00:00 +0000] x",
			  0 },
			{ "1 1x true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +0000] x", 2 },
			{ "1 1e999 true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +0000] x", 2 },
			{ "1 1 yes 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +0000] x", 4 },
			{ "1 1 true 1970-01-01 [01/Jan/1970:00:00:00 +0000] x", 9 },
			{ "1 1 true 1970-01-01T00:00:00Zx [01/Jan/1970:00:00:00 +0000] x", 9 },
			{ "1 1 true 1970-01-01T00:00:00Z [01/Jxn/1970:00:00:00 +0000] x", 31 },
			{ "1 1 true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00] x", 31 },
			{ "1 1 true 1970-01-01T00:00:00Z [01/Jan/1970:00:00:00 +2400] x", 31 },
			{ "1 1 true 1970-01-01T00:00:00Z [31/Feb/1970:00:00:00 +0000] x", 31 },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int rc = match(c, bad[i].line, &r, &off);
			if (rc != SL_REGEX_BAD_TYPE || off != bad[i].off)
				fail_msg("'%s': %s at %u, expected bad_type at %u", bad[i].line,
					 sl_regex_err_names[rc], off, bad[i].off);
		}
	}
	regex_conf_destroy(c);

	/* catastrophic backtracking stops at PCRE2's limit and is an error, not a hang */
	c = make("^(?<a>(a+)+)$", NULL, 0);
	{
		char line[64];
		memset(line, 'a', 40);
		line[40] = 'b';
		line[41] = '\0';
		assert_int_equal(match(c, line, &r, &off), SL_REGEX_MATCH_ERROR);
	}
	regex_conf_destroy(c);
}

static int regex_one(const void *conf, const char *line, size_t len, struct sl_rec_writer *w,
		     uint32_t *off)
{
	const struct sl_regex_conf *c = conf;

	return regex_parse_line(c, c->md[1], line, len, w, off);
}

static void test_writer_sizes(void **unused)
{
	static const char *const types[] = { "n:int" };
	struct sl_regex_conf *c = make("^(?<m>\\S+) (?<p>\\S+) (?<n>\\d+)", types, 1);

	pt_writer_sizes(regex_one, c, "GET /index.html 200 x");
	regex_conf_destroy(c);
}

static void test_stage(void **unused)
{
	static const char *const kv[] = { "pattern=^(?<k>\\w+)=(?<v>\\d+)\\s*$", "types=v:int",
					  NULL };
	static const char *const bad[] = { "pattern=(?<k>", NULL };
	const struct sl_regex_conf *c;
	struct sl_error err;
	struct rte_mbuf *ev;
	void *conf = NULL;
	char line[256];

	pt_setup("regex_parse", kv);
	c = pt_conf;
	assert_int_equal(c->n_md, RTE_MAX_LCORE);
	pt_common_checks("abc=12", "abc=x", "no_match", 0, "k");
	/* a 192-byte line whose record needs more than the 64 bytes left */
	memset(line, 'k', 190);
	memcpy(line + 190, "=1", 2);
	line[192] = '\0';
	pt_too_large(line);
	/* replicas on other lcores match with their own blocks */
	pt_ctx.lcore = RTE_MAX_LCORE - 1;
	ev = pt_event(pt_pool, "x=7", 3, SL_EVENT_LINE);
	pt_run(&ev, 1);
	pt_int(sl_event_record(&pt_ctx, ev), "v", 7);
	pt_free_out();
	pt_ctx.lcore = 0;
	pt_teardown();

	assert_int_not_equal(pt_init_args(bad, &err, &conf), 0);
	assert_string_equal(err.key, "pattern");
	assert_int_equal(err.offset, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_writer_sizes),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
