/*
 * Unit test of redact: init reports a bad pattern at PCRE2's offset; process() replaces
 * every match in the listed string fields (the expected strings are what Python's re.sub
 * gives for the same pattern, worked out by hand: re.sub('a*', '-', 'baac') == '-b--c-'),
 * drops the raw line of a changed event (record at offset 0, raw_len 0), leaves events
 * without a match untouched (same bytes, line kept), leaves fields that are not strings
 * alone, and copies a shared event instead of changing it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../expr/stage_test.h"

enum { CNT_REDACTED = 0, CNT_UNCHANGED, CNT_MATCHES, CNT_MATCH_ERROR, CNT_TOO_LARGE };

static int setup(void **unused)
{
	st_setup("redact");
	return 0;
}

static int init3(const char *const *fields, const char *pattern, const char *repl, void **conf,
		 struct sl_error *err)
{
	struct st_param p[3] = { { "fields", SL_PARAM_LIST, NULL, fields },
				 { "pattern", SL_PARAM_STR, pattern, NULL },
				 { "replacement", SL_PARAM_STR, repl, NULL } };

	return st_init(p, 3, conf, err);
}

static void want_str(struct rte_mbuf *ev, const char *key, const char *want)
{
	struct sl_val v;

	assert_true(sl_rec_find(sl_event_record(&ctx, ev), key, strlen(key), &v));
	assert_int_equal(v.type, SL_VAL_STR);
	if (v.s.len != strlen(want) || memcmp(v.s.p, want, v.s.len) != 0)
		fail_msg("%s: got '%.*s', expected '%s'", key, (int)v.s.len, v.s.p, want);
}

static void test_init_errors(void **unused)
{
	static const char *const fields[] = { "path", NULL };
	struct sl_error err;
	void *conf;

	assert_int_equal(init3(fields, "a(b", "*", &conf, &err), -EINVAL);
	assert_string_equal(err.key, "pattern");
	assert_int_equal(err.offset, 3);
	assert_non_null(strstr(err.msg, "missing closing parenthesis"));
	assert_int_equal(init3(fields, "", "*", &conf, &err), -EINVAL);
}

static void test_redact(void **unused)
{
	static const char *const fields[] = { "path", "method", "status", "absent", NULL };
	struct rte_mbuf *evs[2];
	struct sl_error err;
	struct sl_val v;
	void *conf;
	uint8_t before[256];
	uint16_t len;

	assert_int_equal(init3(fields, "[0-9]+", "#", &conf, &err), 0);
	evs[0] = st_event("GET /u/12/x/345", 200, "GET", "/u/12/x/345");
	evs[1] = st_event("GET /a", 200, "GET", "/a"); /* no digits in path or method */
	len = evs[1]->data_len;
	memcpy(before, rte_pktmbuf_mtod(evs[1], void *), len);
	st_run(conf, evs, 2, 1);
	assert_int_equal(out.n[0], 2);
	want_str(evs[0], "path", "/u/#/x/#");
	want_str(evs[0], "method", "GET");
	assert_true(sl_rec_find(sl_event_record(&ctx, evs[0]), "status", 6, &v));
	assert_int_equal(v.i, 200); /* not a string: left alone */
	assert_int_equal(sl_event_meta(meta_off, evs[0])->raw_len, 0);
	assert_int_equal(sl_event_meta(meta_off, evs[0])->rec_off, 0);
	assert_int_equal(evs[1]->data_len, len);
	assert_memory_equal(rte_pktmbuf_mtod(evs[1], void *), before, len);
	assert_int_equal(counters[CNT_REDACTED], 1);
	assert_int_equal(counters[CNT_UNCHANGED], 1);
	assert_int_equal(counters[CNT_MATCHES], 2);
	rte_pktmbuf_free(evs[0]);
	rte_pktmbuf_free(evs[1]);
	desc->fini(conf);
}

/* Python: re.sub('a*', '-', 'baac') == '-b--c-'; re.sub('x*', '-', '') == '-'. */
static void test_empty_matches(void **unused)
{
	static const char *const fields[] = { "path", "method", NULL };
	struct rte_mbuf *ev;
	struct sl_error err;
	void *conf;

	assert_int_equal(init3(fields, "a*|x*", "-", &conf, &err), 0);
	ev = st_event("l", 200, "", "baac");
	st_run(conf, &ev, 1, 1);
	want_str(ev, "path", "-b--c-");
	want_str(ev, "method", "-");
	rte_pktmbuf_free(ev);
	desc->fini(conf);
}

static void test_shared_and_default(void **unused)
{
	static const char *const fields[] = { "path", NULL };
	struct rte_mbuf *ev = st_event("l", 200, "GET", "/card/4111111111111111");
	struct st_param p[2] = { { "fields", SL_PARAM_LIST, NULL, fields },
				 { "pattern", SL_PARAM_STR, "[0-9]{12,19}", NULL } };
	struct sl_error err;
	void *conf;

	/* replacement not given: the default "****" (the host fills defaults; here by hand) */
	assert_int_equal(st_init(p, 2, &conf, &err), 0);
	rte_mbuf_refcnt_update(ev, 1);
	st_run(conf, &ev, 1, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_not_equal(out.port[0][0], ev);
	want_str(out.port[0][0], "path", "/card/****");
	want_str(ev, "path", "/card/4111111111111111"); /* the other consumer's view */
	assert_int_equal(sl_event_meta(meta_off, ev)->raw_len, 1);
	rte_pktmbuf_free(out.port[0][0]);
	rte_pktmbuf_free(ev);
	desc->fini(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_empty_matches),
		cmocka_unit_test(test_shared_and_default),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
