/*
 * Unit test of route: init compiles every route and reports an error with the entry
 * (sl_error.item) and the offset inside its condition; mode is checked. process() in
 * first mode sends each event to the first matching route's port (1 + its index) or to
 * _unmatched (port 0), events without a record included; in all mode an event matching
 * several routes is one mbuf on each of their ports with its reference count raised, and
 * counted in copies. Expected ports are worked out by hand from the statuses and methods.
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

enum { CNT_ROUTED = 0, CNT_UNMATCHED, CNT_COPIES, CNT_NO_RECORD };

static int setup(void **unused)
{
	st_setup("route");
	return 0;
}

static void test_descriptor(void **unused)
{
	assert_string_equal(desc->outputs[0], "_unmatched");
	assert_null(desc->outputs[1]);
	assert_string_equal(desc->outputs_from, "routes");
}

static void test_init_errors(void **unused)
{
	static const char *const bad[] = { "ok", "status > 1", "oops", "status >= 'x' +", NULL };
	static const char *const num[] = { "a", "status + 1", NULL };
	static const char *const good[] = { "a", "status > 1", NULL };
	struct st_param p[2] = { { "routes", SL_PARAM_MAP, NULL, bad },
				 { "mode", SL_PARAM_STR, "first", NULL } };
	struct sl_error err;
	void *conf;

	assert_int_equal(st_init(p, 2, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "routes");
	assert_int_equal(err.item, 2);	  /* the second entry, "oops" */
	assert_int_equal(err.offset, 14); /* the + after a string */
	p[0].list = num;
	assert_int_equal(st_init(p, 2, &conf, &err), -EINVAL);
	assert_int_equal(err.item, 1);
	assert_non_null(strstr(err.msg, "is a number, not true/false"));
	p[0].list = good;
	p[1].str = "some";
	assert_int_equal(st_init(p, 2, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "mode");
}

static void test_first(void **unused)
{
	static const char *const routes[] = { "server", "status >= 500",
					      "client", "status >= 400",
					      "post",	"method == 'POST'",
					      NULL };
	static const int statuses[] = { 200, 503, 404, 500, 201, 302 };
	static const char *const methods[] = { "GET", "POST", "POST", "GET", "POST", "GET" };
	/* 503 POST goes to server only (first match), 404 POST to client */
	static const uint16_t want_port[] = { 0, 1, 2, 1, 3, 0 };
	struct st_param p[2] = { { "routes", SL_PARAM_MAP, NULL, routes },
				 { "mode", SL_PARAM_STR, "first", NULL } };
	struct rte_mbuf *evs[7];
	uint16_t seen[4] = { 0 };
	struct sl_error err;
	void *conf;

	assert_int_equal(st_init(p, 2, &conf, &err), 0);
	for (int i = 0; i < 6; i++)
		evs[i] = st_event("line", statuses[i], methods[i], "/");
	evs[6] = st_event("line", 500, "GET", "/");
	sl_event_meta(meta_off, evs[6])->kind = SL_EVENT_LINE; /* no record: unmatched */
	st_run(conf, evs, 7, 4);
	for (int i = 0; i < 7; i++) {
		uint16_t port = i < 6 ? want_port[i] : 0;

		assert_ptr_equal(out.port[port][seen[port]++], evs[i]);
	}
	for (int port = 0; port < 4; port++)
		assert_int_equal(out.n[port], seen[port]);
	assert_int_equal(counters[CNT_ROUTED], 4);
	assert_int_equal(counters[CNT_UNMATCHED], 3);
	assert_int_equal(counters[CNT_COPIES], 0);
	assert_int_equal(counters[CNT_NO_RECORD], 1);
	for (int i = 0; i < 7; i++)
		rte_pktmbuf_free(evs[i]);
	desc->fini(conf);
}

static void test_all(void **unused)
{
	static const char *const routes[] = { "server", "status >= 500",
					      "post",	"method == 'POST'",
					      "api",	"prefix(path, '/api')",
					      NULL };
	struct st_param p[2] = { { "routes", SL_PARAM_MAP, NULL, routes },
				 { "mode", SL_PARAM_STR, "all", NULL } };
	struct rte_mbuf *evs[3];
	struct sl_error err;
	void *conf;

	assert_int_equal(st_init(p, 2, &conf, &err), 0);
	evs[0] = st_event("l", 503, "POST", "/api/x"); /* all three */
	evs[1] = st_event("l", 200, "GET", "/");       /* none */
	evs[2] = st_event("l", 200, "POST", "/");      /* post */
	st_run(conf, evs, 3, 4);
	assert_int_equal(out.n[0], 1);
	assert_ptr_equal(out.port[0][0], evs[1]);
	assert_int_equal(out.n[1], 1);
	assert_ptr_equal(out.port[1][0], evs[0]);
	assert_int_equal(out.n[2], 2);
	assert_ptr_equal(out.port[2][0], evs[0]);
	assert_ptr_equal(out.port[2][1], evs[2]);
	assert_int_equal(out.n[3], 1);
	assert_ptr_equal(out.port[3][0], evs[0]);
	assert_int_equal(rte_mbuf_refcnt_read(evs[0]), 3);
	assert_int_equal(counters[CNT_COPIES], 2);
	assert_int_equal(counters[CNT_ROUTED], 2);
	assert_int_equal(counters[CNT_UNMATCHED], 1);
	/* every reference handed out is freed once, as the consumers would */
	for (int port = 0; port < 4; port++)
		for (int k = 0; k < out.n[port]; k++)
			rte_pktmbuf_free(out.port[port][k]);
	desc->fini(conf);
}

/* Projection: the union of the conditions' fields. */
static void test_reads(void **unused)
{
	static const char *const routes[] = { "a", "status > 1 and x.y == 2", "b",
					      "status < 0 or lower(path) == 'q'", NULL };
	struct st_param p[1] = { { "routes", SL_PARAM_MAP, NULL, routes } };
	struct sl_error err;
	const char *const *r;
	void *conf;

	assert_int_equal(st_init(p, 1, &conf, &err), 0);
	r = desc->reads(conf);
	assert_string_equal(r[0], "status");
	assert_string_equal(r[1], "x.y");
	assert_string_equal(r[2], "x");
	assert_string_equal(r[3], "path");
	assert_null(r[4]);
	desc->fini(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor), cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_first),	   cmocka_unit_test(test_all),
		cmocka_unit_test(test_reads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
