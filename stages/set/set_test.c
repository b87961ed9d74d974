/*
 * Unit test of set: init reports a bad expression with its entry (sl_error.item) and
 * offset; process() writes the computed values, an existing field in its place and new
 * ones appended in the order written, evaluates every value against the record as it
 * arrived (so `status: status + 1, next: status + 1` both see the old status), leaves a
 * field alone when its expression has no answer, keeps the raw line, passes events without
 * a record unchanged and copies a shared event instead of changing it. Expected records
 * are worked out by hand.
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

enum { CNT_REWRITTEN = 0, CNT_UNSET, CNT_NO_RECORD, CNT_TOO_LARGE, CNT_NOMBUF };

static int setup(void **unused)
{
	st_setup("set");
	return 0;
}

static void test_init_errors(void **unused)
{
	static const char *const bad[] = { "a", "1", "b", "status +", NULL };
	static const char *const empty_name[] = { "", "1", NULL };
	struct st_param p[1] = { { "fields", SL_PARAM_MAP, NULL, bad } };
	struct sl_error err;
	void *conf;

	assert_int_equal(st_init(p, 1, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "fields");
	assert_int_equal(err.item, 2);
	assert_int_equal(err.offset, 8);
	assert_non_null(strstr(err.msg, "expected a value after '+'"));
	p[0].list = empty_name;
	assert_int_equal(st_init(p, 1, &conf, &err), -EINVAL);
	assert_int_equal(err.item, 1);
}

static void test_values(void **unused)
{
	static const char *const fields[] = {
		"status", "status + 1",		"next", "status + 1",	    "kind", "upper(method)",
		"ratio",  "status / 8",		"ok",	"status < 400",	    "nope", "status / 0",
		"n",	  "prefix(path, '/a')", "path", "nothing_here + 1", NULL
	};
	struct st_param p[1] = { { "fields", SL_PARAM_MAP, NULL, fields } };
	struct rte_mbuf *ev = st_event("the line", 200, "get", "/api");
	struct sl_meta *meta = sl_event_meta(meta_off, ev);
	struct sl_error err;
	struct sl_val v;
	struct sl_rec rec;
	char keys[128];
	void *conf;

	assert_int_equal(st_init(p, 1, &conf, &err), 0);
	st_run(conf, &ev, 1, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_equal(out.port[0][0], ev);
	/* status and n in place, path untouched (no answer), new fields appended in order */
	st_keys(ev, keys, sizeof(keys));
	assert_string_equal(keys, "status,method,path,n,next,kind,ratio,ok");
	rec = sl_event_record(&ctx, ev);
	assert_true(sl_rec_find(rec, "status", 6, &v));
	assert_int_equal(v.i, 201);
	assert_true(sl_rec_find(rec, "next", 4, &v));
	assert_int_equal(v.i, 201); /* the old status + 1, not 202 */
	assert_true(sl_rec_find(rec, "kind", 4, &v));
	assert_int_equal(v.type, SL_VAL_STR);
	assert_memory_equal(v.s.p, "GET", 3);
	assert_true(sl_rec_find(rec, "ratio", 5, &v));
	assert_int_equal(v.type, SL_VAL_FLOAT);
	assert_true(v.f == 25.0);
	assert_true(sl_rec_find(rec, "ok", 2, &v));
	assert_int_equal(v.type, SL_VAL_BOOL);
	assert_true(v.b);
	assert_true(sl_rec_find(rec, "n", 1, &v));
	assert_int_equal(v.type, SL_VAL_BOOL);
	assert_true(v.b);
	assert_true(sl_rec_find(rec, "path", 4, &v));
	assert_memory_equal(v.s.p, "/api", 4);
	assert_false(sl_rec_find(rec, "nope", 4, &v));
	/* the line is still in front */
	assert_int_equal(meta->raw_len, 8);
	assert_memory_equal(rte_pktmbuf_mtod(ev, char *), "the line", 8);
	assert_int_equal(counters[CNT_REWRITTEN], 1);
	assert_int_equal(counters[CNT_UNSET], 2);
	rte_pktmbuf_free(ev);
	desc->fini(conf);
}

static void test_no_record_and_shared(void **unused)
{
	static const char *const fields[] = { "x", "len(path)", NULL };
	struct st_param p[1] = { { "fields", SL_PARAM_MAP, NULL, fields } };
	struct rte_mbuf *evs[2];
	struct sl_error err;
	struct sl_val v;
	char keys[128];
	void *conf;

	assert_int_equal(st_init(p, 1, &conf, &err), 0);
	evs[0] = st_event("l", 200, "GET", "/abc");
	sl_event_meta(meta_off, evs[0])->kind = SL_EVENT_LINE;
	evs[1] = st_event("l", 200, "GET", "/abc");
	rte_mbuf_refcnt_update(evs[1], 1); /* a second consumer holds it too */
	st_run(conf, evs, 2, 1);
	assert_int_equal(out.n[0], 2);
	assert_ptr_equal(out.port[0][0], evs[0]);
	assert_ptr_not_equal(out.port[0][1], evs[1]);
	st_keys(out.port[0][1], keys, sizeof(keys));
	assert_string_equal(keys, "status,method,path,n,x");
	assert_true(sl_rec_find(sl_event_record(&ctx, out.port[0][1]), "x", 1, &v));
	assert_int_equal(v.i, 4);
	st_keys(evs[1], keys, sizeof(keys));
	assert_string_equal(keys, "status,method,path,n"); /* the other consumer's view */
	assert_int_equal(counters[CNT_NO_RECORD], 1);
	assert_int_equal(counters[CNT_REWRITTEN], 1);
	rte_pktmbuf_free(out.port[0][0]);
	rte_pktmbuf_free(out.port[0][1]);
	assert_int_equal(rte_mbuf_refcnt_read(evs[1]), 1);
	rte_pktmbuf_free(evs[1]);
	desc->fini(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_no_record_and_shared),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
