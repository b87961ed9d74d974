/*
 * Unit tests for the nginx line generator and the `gen` source: the same seed gives the
 * same lines, every line parses as nginx "combined" format with a hand-written parser
 * here, timestamps advance as documented (checked against dates worked out by hand),
 * the weighted fields have plausible shares, and the source emits count events with
 * sequence ids, pacing by rate and stopping on request.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>

#include "eal.h"
#include "source/gen_nginx.h"
#include "source/source.h"

static struct rte_mempool *pool;
static int meta_off;

struct combined {
	uint32_t ip[4];
	char date[32];
	char method[8];
	char path[128];
	char proto[16];
	uint32_t status;
	uint32_t bytes;
	char referer[128];
	char agent[256];
};

static bool take(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

static bool number(const char **p, const char *end, uint32_t *v, uint32_t max_digits)
{
	uint32_t d = 0;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && d < max_digits) {
		*v = *v * 10 + (uint32_t)(**p - '0');
		(*p)++;
		d++;
	}
	return d > 0;
}

/* Copy up to stop (not included) into out; false if stop is missing or a quote comes first. */
static bool field(const char **p, const char *end, char stop, char *out, size_t cap)
{
	size_t n = 0;

	while (*p < end && **p != stop) {
		if (**p == '"' || n + 1 >= cap)
			return false;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return *p < end;
}

/* ip - - [date] "method path proto" status bytes "referer" "agent" */
static bool parse_combined(const char *s, size_t len, struct combined *c)
{
	const char *p = s, *end = s + len;

	for (int i = 0; i < 4; i++) {
		if (!number(&p, end, &c->ip[i], 3) || c->ip[i] > 255)
			return false;
		if (i < 3 && !take(&p, end, "."))
			return false;
	}
	if (!take(&p, end, " - - [") || !field(&p, end, ']', c->date, sizeof(c->date)))
		return false;
	if (strlen(c->date) != 26 || strcmp(c->date + 20, " +0000") != 0)
		return false;
	if (!take(&p, end, "] \"") || !field(&p, end, ' ', c->method, sizeof(c->method)) ||
	    !take(&p, end, " ") || !field(&p, end, ' ', c->path, sizeof(c->path)) ||
	    !take(&p, end, " ") || !field(&p, end, '"', c->proto, sizeof(c->proto)) ||
	    !take(&p, end, "\" ") || !number(&p, end, &c->status, 3) || !take(&p, end, " ") ||
	    !number(&p, end, &c->bytes, 9) || !take(&p, end, " \"") ||
	    !field(&p, end, '"', c->referer, sizeof(c->referer)) || !take(&p, end, "\" \"") ||
	    !field(&p, end, '"', c->agent, sizeof(c->agent)) || !take(&p, end, "\""))
		return false;
	return p == end && c->path[0] == '/' && c->agent[0] != '\0' && c->referer[0] != '\0';
}

static void test_same_seed_same_lines(void **state)
{
	uint64_t a = sl_gen_nginx_seed(42), b = sl_gen_nginx_seed(42), c = sl_gen_nginx_seed(43);
	char la[SL_GEN_NGINX_LINE_MAX], lb[SL_GEN_NGINX_LINE_MAX], lc[SL_GEN_NGINX_LINE_MAX];
	int differ = 0;

	for (uint64_t seq = 0; seq < 2000; seq++) {
		size_t na = sl_gen_nginx_line(&a, seq, la, sizeof(la));
		size_t nb = sl_gen_nginx_line(&b, seq, lb, sizeof(lb));
		size_t nc = sl_gen_nginx_line(&c, seq, lc, sizeof(lc));

		assert_true(na > 0);
		assert_int_equal(na, nb);
		assert_memory_equal(la, lb, na);
		differ += na != nc || memcmp(la, lc, na) != 0;
	}
	/* Another seed gives other lines (almost all of them). */
	assert_true(differ > 1900);
	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(sl_gen_nginx_line(&a, 0, la, SL_GEN_NGINX_LINE_MAX - 1), 0);
}

static void test_lines_parse_as_combined(void **state)
{
	static const char *const methods[] = { "GET", "POST", "HEAD", "PUT", "DELETE" };
	static const uint32_t statuses[] = { 200, 301, 302, 304, 400, 401,
					     403, 404, 500, 502, 503, 504 };
	uint32_t n_method[5] = { 0 }, n_status[12] = { 0 };
	static uint8_t seen_ip[1 << 24];
	uint32_t n_ip = 0, n_query = 0, n_dash = 0, n_h2 = 0;
	uint64_t rng = sl_gen_nginx_seed(7);
	char line[SL_GEN_NGINX_LINE_MAX];
	const uint32_t total = 20000;

	memset(seen_ip, 0, sizeof(seen_ip));
	for (uint32_t seq = 0; seq < total; seq++) {
		size_t n = sl_gen_nginx_line(&rng, seq, line, sizeof(line));
		struct combined c;
		uint32_t key;
		size_t i;

		assert_true(n > 0 && n < SL_GEN_NGINX_LINE_MAX);
		assert_null(memchr(line, '\n', n));
		if (!parse_combined(line, n, &c))
			fail_msg("line %u does not parse: %.*s", seq, (int)n, line);
		for (i = 0; i < 5 && strcmp(c.method, methods[i]) != 0; i++)
			;
		assert_true(i < 5);
		n_method[i]++;
		for (i = 0; i < 12 && c.status != statuses[i]; i++)
			;
		assert_true(i < 12);
		n_status[i]++;
		assert_true(c.bytes <= 50000);
		if (c.status == 304)
			assert_int_equal(c.bytes, 0);
		assert_true(strcmp(c.proto, "HTTP/1.1") == 0 || strcmp(c.proto, "HTTP/2.0") == 0 ||
			    strcmp(c.proto, "HTTP/1.0") == 0);
		n_h2 += strcmp(c.proto, "HTTP/2.0") == 0;
		n_query += strchr(c.path, '?') != NULL;
		n_dash += strcmp(c.referer, "-") == 0;
		key = c.ip[0] << 16 ^ c.ip[1] << 8 ^ c.ip[2] ^ c.ip[3] << 12;
		key &= (1 << 24) - 1;
		n_ip += !seen_ip[key];
		seen_ip[key] = 1;
	}
	/* Shares near the documented weights (GET 80%, 200 78%, queries 20%, no referer 40%,
	 * HTTP/2 28%), with wide margins; every method and status shows up. */
	for (int i = 0; i < 5; i++)
		assert_true(n_method[i] > 0);
	for (int i = 0; i < 12; i++)
		assert_true(n_status[i] > 0);
	assert_true(n_method[0] > total * 75 / 100 && n_method[0] < total * 85 / 100);
	assert_true(n_status[0] > total * 73 / 100 && n_status[0] < total * 83 / 100);
	assert_true(n_query > total * 15 / 100 && n_query < total * 25 / 100);
	assert_true(n_dash > total * 35 / 100 && n_dash < total * 45 / 100);
	assert_true(n_h2 > total * 23 / 100 && n_h2 < total * 33 / 100);
	/* About a thousand clients. */
	assert_true(n_ip > 500 && n_ip <= 1000);
}

static void expect_date(uint64_t seq, const char *want)
{
	uint64_t rng = sl_gen_nginx_seed(1);
	char line[SL_GEN_NGINX_LINE_MAX];
	size_t n = sl_gen_nginx_line(&rng, seq, line, sizeof(line));
	struct combined c;

	assert_true(parse_combined(line, n, &c));
	assert_string_equal(c.date, want);
}

static void test_time_advances(void **state)
{
	expect_date(0, "27/Nov/2026:10:00:00 +0000");
	expect_date(99, "27/Nov/2026:10:00:00 +0000");
	expect_date(100, "27/Nov/2026:10:00:01 +0000");
	expect_date(100 * 61, "27/Nov/2026:10:01:01 +0000");
	/* 14 h later is midnight of the 28th. */
	expect_date(100ull * 14 * 3600, "28/Nov/2026:00:00:00 +0000");
	/* 3 days to Dec 1 plus 31 of December: New Year 2027. */
	expect_date(100ull * (14 * 3600 + 34 * 86400), "01/Jan/2027:00:00:00 +0000");
	expect_date(100ull * (14 * 3600 + 34 * 86400) - 1, "31/Dec/2026:23:59:59 +0000");
	/* 2028 is a leap year: Feb 29 exists. 2027-01-01 + 365 + 31 + 28 days. */
	expect_date(100ull * (14 * 3600 + (34 + 365 + 31 + 28) * 86400),
		    "29/Feb/2028:00:00:00 +0000");
}

static void make_args(struct sl_arg *v, struct sl_args *a, int64_t count, int64_t rate,
		      int64_t seed)
{
	v[0] = (struct sl_arg){ .key = "count", .type = SL_PARAM_INT, .i = count };
	v[1] = (struct sl_arg){ .key = "rate", .type = SL_PARAM_INT, .i = rate };
	v[2] = (struct sl_arg){ .key = "seed", .type = SL_PARAM_INT, .i = seed };
	*a = (struct sl_args){ .file = "t.yaml", .name = "gen", .n = 3, .v = v };
}

static struct sl_io_env test_env(void)
{
	return (struct sl_io_env){ .pool = pool,
				   .meta_offset = meta_off,
				   .node_id = 3,
				   .name = "gen",
				   .file = "t.yaml",
				   .tsc_hz = rte_get_tsc_hz() };
}

static void test_source_count_and_ids(void **state)
{
	struct sl_io_env env = test_env();
	struct sl_arg v[3];
	struct sl_args a;
	struct sl_error err = { 0 };
	uint64_t rng = sl_gen_nginx_seed(9), got = 0;
	char line[SL_GEN_NGINX_LINE_MAX], summary[128];
	void *src;
	bool done = false;

	make_args(v, &a, 1000, 0, 9);
	assert_int_equal(sl_source_gen.create(&a, &env, &src, &err), 0);
	while (!done) {
		struct rte_mbuf *ev[48];
		uint16_t n = sl_source_gen.poll(src, ev, 48, &done);

		for (uint16_t i = 0; i < n; i++) {
			struct sl_meta *m = sl_event_meta(meta_off, ev[i]);
			size_t len = sl_gen_nginx_line(&rng, got, line, sizeof(line));

			assert_int_equal(m->event_id, got);
			assert_int_equal(m->kind, SL_EVENT_LINE);
			assert_int_equal(m->source, 3);
			assert_int_equal(m->raw_len, len);
			assert_int_equal(ev[i]->data_len, len);
			assert_memory_equal(rte_pktmbuf_mtod(ev[i], char *), line, len);
			got++;
		}
		rte_pktmbuf_free_bulk(ev, n);
		assert_true(got <= 1000);
	}
	assert_int_equal(got, 1000);
	sl_source_gen.summary_line(src, summary, sizeof(summary));
	assert_non_null(strstr(summary, "lines=1000 "));
	sl_source_gen.destroy(src);
}

static void test_source_unbounded_stop(void **state)
{
	struct sl_io_env env = test_env();
	struct sl_arg v[3];
	struct sl_args a;
	struct sl_error err = { 0 };
	struct rte_mbuf *ev[64];
	void *src;
	bool done = false;

	make_args(v, &a, 0, 0, 1);
	assert_int_equal(sl_source_gen.create(&a, &env, &src, &err), 0);
	for (int i = 0; i < 100; i++) {
		uint16_t n = sl_source_gen.poll(src, ev, 64, &done);

		assert_int_equal(n, 64);
		assert_false(done);
		rte_pktmbuf_free_bulk(ev, n);
	}
	sl_source_gen.stop(src);
	assert_int_equal(sl_source_gen.poll(src, ev, 64, &done), 0);
	assert_true(done);
	sl_source_gen.destroy(src);
}

static void test_source_rate(void **state)
{
	struct sl_io_env env = test_env();
	struct sl_arg v[3];
	struct sl_args a;
	struct sl_error err = { 0 };
	struct rte_mbuf *ev[64];
	uint64_t got = 0, start, elapsed, hz = rte_get_tsc_hz();
	void *src;
	bool done = false;

	/* 200 events at 2000 events/s cannot come sooner than 100 ms after the first poll
	 * (pacing), and come well within a second (the bound is loose for loaded machines). */
	make_args(v, &a, 0, 2000, 1);
	assert_int_equal(sl_source_gen.create(&a, &env, &src, &err), 0);
	start = rte_rdtsc();
	while (got < 200) {
		uint16_t want = (uint16_t)(200 - got < 64 ? 200 - got : 64);
		uint16_t n = sl_source_gen.poll(src, ev, want, &done);

		got += n;
		rte_pktmbuf_free_bulk(ev, n);
		assert_true(rte_rdtsc() - start < 5 * hz);
		usleep(200);
	}
	elapsed = rte_rdtsc() - start;
	assert_true(elapsed >= hz / 10 - hz / 1000);
	assert_true(elapsed < hz);
	sl_source_gen.destroy(src);

	make_args(v, &a, -1, 0, 1);
	assert_int_equal(sl_source_gen.create(&a, &env, &src, &err), -EINVAL);
	assert_string_equal(err.key, "count");
}

/* Replicas split count: 1001 lines over 3 replicas are 334 + 334 + 333, and the replicas'
 * streams differ (each has its own seed); 2 lines over 3 replicas leave one empty. */
static void test_source_replicas_split_count(void **state)
{
	static const struct {
		int64_t count;
		uint16_t n;
		uint64_t want[3];
	} cases[] = {
		{ 1001, 3, { 334, 334, 333 } },
		{ 2, 3, { 1, 1, 0 } },
	};
	char first[3][SL_GEN_NGINX_LINE_MAX + 1];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (uint16_t k = 0; k < cases[c].n; k++) {
			struct sl_io_env env = test_env();
			struct sl_arg v[3];
			struct sl_args a;
			struct sl_error err = { 0 };
			uint64_t got = 0;
			void *src;
			bool done = false;

			env.replica = k;
			env.n_replicas = cases[c].n;
			make_args(v, &a, cases[c].count, 0, 9);
			assert_int_equal(sl_source_gen.create(&a, &env, &src, &err), 0);
			while (!done) {
				struct rte_mbuf *ev[64];
				uint16_t n = sl_source_gen.poll(src, ev, 64, &done);

				if (got == 0 && n > 0 && c == 0) {
					memcpy(first[k], rte_pktmbuf_mtod(ev[0], char *),
					       ev[0]->data_len);
					first[k][ev[0]->data_len] = '\0';
				}
				got += n;
				rte_pktmbuf_free_bulk(ev, n);
			}
			assert_int_equal(got, cases[c].want[k]);
			sl_source_gen.destroy(src);
		}
	}
	assert_string_not_equal(first[0], first[1]);
	assert_string_not_equal(first[1], first[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_same_lines),
		cmocka_unit_test(test_lines_parse_as_combined),
		cmocka_unit_test(test_time_advances),
		cmocka_unit_test(test_source_count_and_ids),
		cmocka_unit_test(test_source_unbounded_stop),
		cmocka_unit_test(test_source_replicas_split_count),
		cmocka_unit_test(test_source_rate),
	};

	pool = sl_test_pool(512, 2048, &meta_off);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
