/*
 * Unit test of the aggregate stage: deterministic pseudo-random access-log records (status,
 * bytes, ip, path, a float rt that is sometimes missing, and some events without status or
 * without a record) are folded by process() once into a single state and once into three
 * replica states that are then merged; both emit the same records byte for byte (merge ==
 * single replica), and every value is checked against what the test computes itself:
 * count, sum, min, max and avg exactly, distinct within 4 standard errors, quantiles within
 * the relative accuracy, top_k exactly (capacity above the number of paths). Also: no
 * group_by, the groups cap and its overflow counter, emit resuming after an empty pool,
 * event-time buckets (time strings against epoch seconds from Python's calendar.timegm),
 * time windows closed by a watermark through the runtime's close protocol done by hand
 * (two replicas, two states each, carry, late events routed and found at a close), and
 * init's parameter errors.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "eal.h"
#include "event/event.h"
#include "event_time.h"
#include "plugin/registry.h"

static struct rte_mempool *pool, *tiny_pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static struct sl_ctx_host host_priv;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx ctx;
static struct sl_emit out;

enum { CNT_GROUPED = 0, CNT_MISSING_KEY, CNT_MISSING_FIELD, CNT_NOT_NUMBER, CNT_NEGATIVE };
#define CNT_GROUPS_OVERFLOW 7

static int setup(void **unused)
{
	pool = sl_test_pool(2048, 2048, &meta_off);
	tiny_pool = sl_test_pool(128, 2048, &meta_off);
	desc = sl_test_builtin("aggregate");
	ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "stats");
	return 0;
}

static int init_agg(const char *const *group_by, uint32_t n_keys, const char *window,
		    int64_t max_groups, const char *const *aggs, uint32_t n_aggs, void **conf,
		    struct sl_error *err)
{
	char mg[32];
	struct sl_arg v[4] = {
		{ .key = "group_by",
		  .type = SL_PARAM_LIST,
		  .str = "",
		  .list = group_by,
		  .n_list = n_keys },
		{ .key = "window", .type = SL_PARAM_STR, .str = window },
		{ .key = "max_groups", .type = SL_PARAM_INT, .str = mg, .i = max_groups },
		{ .key = "aggregations",
		  .type = SL_PARAM_LIST,
		  .str = "",
		  .list = aggs,
		  .n_list = n_aggs },
	};
	struct sl_args args = { .file = "t.yaml", .name = "stats", .n = 4, .v = v };

	snprintf(mg, sizeof(mg), "%lld", (long long)max_groups);
	memset(err, 0, sizeof(*err));
	return desc->init(&sl_host_table, &args, conf, err);
}

/* An event-time configuration: group_by [k], count per bucket of `width` of field t. */
static int init_event(const char *width, const char *unit, void **conf, struct sl_error *err)
{
	static const char *const keys[] = { "k" };
	struct sl_arg v[5] = {
		{ .key = "group_by", .type = SL_PARAM_LIST, .str = "k", .list = keys, .n_list = 1 },
		{ .key = "window", .type = SL_PARAM_STR, .str = "all" },
		{ .key = "event_time", .type = SL_PARAM_STR, .str = "t" },
		{ .key = "event_window", .type = SL_PARAM_STR, .str = width },
		{ .key = "event_time_unit", .type = SL_PARAM_STR, .str = unit },
	};
	struct sl_args args = { .file = "t.yaml", .name = "stats", .n = 5, .v = v };

	memset(err, 0, sizeof(*err));
	return desc->init(&sl_host_table, &args, conf, err);
}

/* ---- the records and what the test expects of them ---- */

#define N_PATHS 20
#define N_IPS	300

struct line {
	int has_record, has_status, has_rt;
	int64_t status, bytes;
	double rt;
	unsigned ip, path;
};

struct model {
	int nil; /* the group of events without status */
	int64_t status;
	uint64_t n, n_rt;
	int64_t sum, min, max;
	double rt_sum;
	uint8_t ips[N_IPS];
	uint64_t paths[N_PATHS];
	int64_t *bytes;
	double *rts;
};

static struct model groups[8];
static unsigned n_groups;

static struct model *model_of(const struct line *l)
{
	for (unsigned i = 0; i < n_groups; i++)
		if (groups[i].nil == !l->has_status &&
		    (!l->has_status || groups[i].status == l->status))
			return &groups[i];
	groups[n_groups] = (struct model){ .nil = !l->has_status, .status = l->status };
	groups[n_groups].bytes = calloc(20000, sizeof(int64_t));
	groups[n_groups].rts = calloc(20000, sizeof(double));
	return &groups[n_groups++];
}

static void model_add(const struct line *l)
{
	struct model *g = model_of(l);

	if (!l->has_record) {
		g->n++;
		return;
	}
	g->min = g->n == 0 || l->bytes < g->min ? l->bytes : g->min;
	g->max = g->n == 0 || l->bytes > g->max ? l->bytes : g->max;
	g->bytes[g->n] = l->bytes;
	g->n++;
	g->sum += l->bytes;
	g->ips[l->ip] = 1;
	g->paths[l->path]++;
	if (l->has_rt) {
		g->rts[g->n_rt++] = l->rt;
		g->rt_sum += l->rt;
	}
}

/* A fresh event from the pool, metadata zeroed, and a writer for its record. */
static struct rte_mbuf *begin_event(struct sl_rec_writer *w)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(pool);

	assert_non_null(ev);
	memset(sl_event_meta(meta_off, ev), 0, sizeof(struct sl_meta));
	sl_rec_begin(w, rte_pktmbuf_mtod(ev, void *), rte_pktmbuf_tailroom(ev));
	return ev;
}

/* Close the record begun by begin_event: a record event. */
static struct rte_mbuf *end_event(struct rte_mbuf *ev, struct sl_rec_writer *w)
{
	uint32_t len = sl_rec_end(w);

	assert_true(len > 0);
	ev->data_len = (uint16_t)len;
	ev->pkt_len = len;
	sl_event_meta(meta_off, ev)->kind = SL_EVENT_RECORD;
	return ev;
}

static struct rte_mbuf *make_event(const struct line *l)
{
	struct sl_rec_writer w;
	struct rte_mbuf *ev = begin_event(&w);
	char s[32];

	if (!l->has_record) {
		struct sl_meta *meta = sl_event_meta(meta_off, ev);

		memcpy(rte_pktmbuf_mtod(ev, char *), "a line", 6);
		ev->data_len = 6;
		ev->pkt_len = 6;
		meta->kind = SL_EVENT_LINE;
		meta->raw_len = 6;
		return ev;
	}
	if (l->has_status)
		sl_rec_put_int(&w, "status", l->status);
	sl_rec_put_int(&w, "bytes", l->bytes);
	snprintf(s, sizeof(s), "10.0.%u.%u", l->ip / 200, l->ip % 200);
	sl_rec_put_str(&w, "ip", s, strlen(s));
	snprintf(s, sizeof(s), "/p%u", l->path);
	sl_rec_put_str(&w, "path", s, strlen(s));
	if (l->has_rt)
		sl_rec_put_float(&w, "rt", l->rt);
	return end_event(ev, &w);
}

static uint64_t x_rng = 777;

static unsigned rnd(unsigned n)
{
	x_rng = x_rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((x_rng >> 33) % n);
}

static void make_line(struct line *l)
{
	static const int64_t statuses[] = { 200, 200, 200, 200, 404, 404, 500 };
	unsigned a = rnd(N_PATHS), b = rnd(N_PATHS);

	memset(l, 0, sizeof(*l));
	l->has_record = rnd(100) != 0;
	l->has_status = l->has_record && rnd(50) != 0;
	l->status = statuses[rnd(7)];
	l->bytes = rnd(4) == 0 ? 0 : (int64_t)rnd(100000) + 1;
	l->ip = rnd(N_IPS);
	l->path = a * b / N_PATHS; /* skewed towards low paths */
	l->has_rt = rnd(10) != 0;
	l->rt = rnd(64) / 8.0; /* exact in binary: float sums do not depend on order */
}

static void process_burst(const void *conf, void *state, struct rte_mbuf **evs, uint16_t n)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	ctx.state = state;
	desc->process(conf, &ctx, &in, &out);
	assert_int_equal(out.n[0], 0);
	assert_int_equal(out.n_drop, n);
	for (uint16_t i = 0; i < n; i++) {
		assert_ptr_equal(out.drop[i], evs[i]);
		assert_int_equal(out.drop_reason[i], SL_DROP_CONSUMED);
	}
}

/* Every record of a closed state, in order, as copies; returns how many. */
static unsigned emit_all(const void *conf, void *state, uint8_t recs[][2048], uint32_t *lens,
			 unsigned max)
{
	uint64_t cursor = 0;
	unsigned k = 0;
	bool more;

	do {
		memset(&out, 0, sizeof(out));
		out.n_ports = 1;
		more = desc->state->emit(conf, state, &cursor, &ctx, &out);
		assert_int_equal(out.n_drop, 0);
		for (unsigned i = 0; i < out.n[0]; i++, k++) {
			struct rte_mbuf *m = out.port[0][i];
			struct sl_rec r = sl_event_record(&ctx, m);

			assert_true(k < max);
			assert_int_equal(sl_event_meta(meta_off, m)->kind, SL_EVENT_RECORD);
			assert_true(r.len <= 2048);
			memcpy(recs[k], r.p, r.len);
			lens[k] = r.len;
			rte_pktmbuf_free(m);
		}
	} while (more);
	return k;
}

static int64_t rec_int(struct sl_rec r, const char *k)
{
	struct sl_val v;

	if (!sl_rec_find(r, k, strlen(k), &v) || v.type != SL_VAL_INT)
		fail_msg("field %s missing or not an integer", k);
	return v.i;
}

static double rec_float(struct sl_rec r, const char *k)
{
	struct sl_val v;

	if (!sl_rec_find(r, k, strlen(k), &v) || v.type != SL_VAL_FLOAT)
		fail_msg("field %s missing or not a float", k);
	return v.f;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* top_paths: [{"path": "/pN", "count": C}, ...] against the model's counts. */
static void check_top_paths(struct sl_rec r, const struct model *g)
{
	struct sl_val v, e;
	const uint8_t *p, *end = r.p + r.len;
	uint64_t ch, prev = UINT64_MAX;

	assert_true(sl_rec_find(r, "top_paths", 9, &v));
	assert_int_equal(v.type, SL_VAL_ARRAY);
	assert_int_equal(v.n, 3);
	p = sl_mp_head(v.raw, end, &v, &ch);
	for (unsigned i = 0; i < 3; i++) {
		struct sl_rec m;
		unsigned path, better = 0;
		int64_t c;

		m.p = p;
		p = sl_mp_read(p, end, &e);
		assert_non_null(p);
		m.len = e.raw_len;
		assert_int_equal(e.type, SL_VAL_MAP);
		assert_int_equal(e.n, 2);
		assert_true(sl_rec_find(m, "path", 4, &e));
		assert_int_equal(e.type, SL_VAL_STR);
		assert_true(e.s.len >= 3 && e.s.p[0] == '/' && e.s.p[1] == 'p');
		path = (unsigned)atoi(e.s.p + 2);
		c = rec_int(m, "count");
		assert_int_equal((uint64_t)c, g->paths[path]);
		assert_true((uint64_t)c <= prev);
		prev = (uint64_t)c;
		/* exactly i paths have more (ties may go either way only between equals) */
		for (unsigned q = 0; q < N_PATHS; q++)
			better += g->paths[q] > g->paths[path];
		assert_true(better <= i);
	}
}

static void check_group(struct sl_rec r, struct model *g)
{
	struct sl_val v;
	double sigma = 1.04 / 64, got, want;
	uint64_t n_ips = 0, n_rec = 0;

	assert_true(sl_rec_find(r, "status", 6, &v));
	if (g->nil) {
		assert_int_equal(v.type, SL_VAL_NIL);
	} else {
		assert_int_equal(v.type, SL_VAL_INT);
		assert_int_equal(v.i, g->status);
	}
	for (unsigned i = 0; i < N_IPS; i++)
		n_ips += g->ips[i];
	for (unsigned i = 0; i < N_PATHS; i++)
		n_rec += g->paths[i];
	assert_int_equal(rec_int(r, "requests"), g->n);
	assert_int_equal(rec_int(r, "total"), g->sum);
	assert_int_equal(rec_int(r, "smallest"), g->min);
	assert_int_equal(rec_int(r, "largest"), g->max);
	assert_int_equal(rec_int(r, "with_rt"), g->n_rt);
	assert_true(rec_float(r, "rt_sum") == g->rt_sum);
	assert_true(fabs(rec_float(r, "mean_rt") - g->rt_sum / (double)g->n_rt) < 1e-12);
	got = (double)rec_int(r, "clients");
	assert_true(fabs(got - (double)n_ips) <= 4 * sigma * (double)n_ips);
	/* quantiles of the records' values: rank floor(q (n - 1)) */
	qsort(g->bytes, n_rec, sizeof(int64_t), cmp_i64);
	want = (double)g->bytes[(size_t)(0.99 * (double)(n_rec - 1))];
	got = (double)rec_int(r, "p99_bytes");
	assert_true(fabs(got - want) <= 0.01 * want + 0.5);
	qsort(g->rts, g->n_rt, sizeof(double), cmp_dbl);
	want = g->rts[(size_t)(0.5 * (double)(g->n_rt - 1))];
	got = rec_float(r, "p50_rt");
	assert_true(fabs(got - want) <= 0.02 * want * (1 + 1e-9));
	check_top_paths(r, g);
}

static int model_cmp(const void *a, const void *b)
{
	const struct model *x = a, *y = b;

	if (x->nil != y->nil)
		return y->nil - x->nil;
	return (x->status > y->status) - (x->status < y->status);
}

static const char *const all_aggs[] = {
	"{ name: requests,  fn: count }",
	"{ name: clients,   fn: distinct, field: ip }",
	"{ name: p99_bytes, fn: quantile, field: bytes, q: 0.99 }",
	"{ name: top_paths, fn: top_k, field: path, k: 3 }",
	"name: total, fn: sum, field: bytes",
	"{ name: smallest, fn: min, field: bytes }",
	"{ name: largest, fn: max, field: \"bytes\" }",
	"{ name: mean_rt, fn: avg, field: rt }",
	"{ name: rt_sum, fn: sum, field: rt }",
	"{ name: with_rt, fn: count, field: rt }",
	"{ name: 'p50_rt', fn: quantile, field: rt, q: 0.5, error: 0.02 }",
};

static uint8_t recs_a[8][2048], recs_b[8][2048];

static void test_merge_equals_single(void **unused)
{
	static const char *const keys[] = { "status" };
	const struct sl_state_ops *ops = desc->state;
	struct rte_mbuf *one[64], *three[64];
	uint32_t lens_a[8], lens_b[8];
	struct sl_error err;
	void *conf, *single, *rep[3];
	unsigned na, nb, burst = 0;
	uint64_t missing_key = 0, missing_rt = 0, no_record = 0;

	assert_int_equal(init_agg(keys, 1, "all", 16, all_aggs, 11, &conf, &err), 0);
	single = ops->create(conf);
	assert_non_null(single);
	for (int i = 0; i < 3; i++) {
		rep[i] = ops->create(conf);
		assert_non_null(rep[i]);
	}
	memset(counters, 0, sizeof(counters));
	n_groups = 0;
	for (int e = 0; e < 12000; e++) {
		struct line l;
		unsigned b = (unsigned)e % 64;

		make_line(&l);
		model_add(&l);
		missing_key += !l.has_status;
		missing_rt += l.has_record && !l.has_rt;
		no_record += !l.has_record;
		one[b] = make_event(&l);
		three[b] = make_event(&l);
		if (b == 63 || e == 11999) {
			process_burst(conf, single, one, (uint16_t)(b + 1));
			process_burst(conf, rep[burst++ % 3], three, (uint16_t)(b + 1));
			for (unsigned i = 0; i <= b; i++) {
				rte_pktmbuf_free(one[i]);
				rte_pktmbuf_free(three[i]);
			}
		}
	}
	/* every event counted twice (single and replicas) */
	assert_int_equal(counters[CNT_GROUPED], 2 * 12000);
	assert_int_equal(counters[CNT_MISSING_KEY], 2 * missing_key);
	/* 10 aggregations read a field, 4 of them rt */
	assert_int_equal(counters[CNT_MISSING_FIELD], 2 * (10 * no_record + 4 * missing_rt));
	assert_int_equal(counters[CNT_NOT_NUMBER], 0);
	assert_int_equal(counters[CNT_GROUPS_OVERFLOW], 0);
	ops->merge(conf, rep[1], rep[2]);
	ops->reset(conf, rep[2]);
	ops->merge(conf, rep[0], rep[1]);
	ops->reset(conf, rep[1]);
	na = emit_all(conf, single, recs_a, lens_a, 8);
	nb = emit_all(conf, rep[0], recs_b, lens_b, 8);
	assert_int_equal(na, n_groups);
	assert_int_equal(nb, na);
	qsort(groups, n_groups, sizeof(groups[0]), model_cmp);
	for (unsigned i = 0; i < na; i++) {
		assert_int_equal(lens_a[i], lens_b[i]);
		assert_memory_equal(recs_a[i], recs_b[i], lens_a[i]);
		check_group((struct sl_rec){ recs_a[i], lens_a[i] }, &groups[i]);
	}
	/* a reset state emits nothing */
	ops->reset(conf, single);
	assert_int_equal(emit_all(conf, single, recs_a, lens_a, 8), 0);
	for (unsigned i = 0; i < n_groups; i++) {
		free(groups[i].bytes);
		free(groups[i].rts);
	}
	ops->destroy(conf, single);
	for (int i = 0; i < 3; i++)
		ops->destroy(conf, rep[i]);
	desc->fini(conf);
}

/* One record {"v": i, "s": s} for the small tests. */
static struct rte_mbuf *make_small(int64_t i, const char *s)
{
	struct sl_rec_writer w;
	struct rte_mbuf *ev = begin_event(&w);

	sl_rec_put_int(&w, "v", i);
	sl_rec_put_str(&w, "s", s, strlen(s));
	return end_event(ev, &w);
}

/* msgpack-c's packer into a buffer (the oracle of agg_canon_test). */
struct canon_buf {
	uint8_t b[600];
	uint32_t n;
};

static int canon_write(void *data, const char *buf, size_t len)
{
	struct canon_buf *c = data;

	assert_true(c->n + len <= sizeof(c->b));
	memcpy(c->b + c->n, buf, len);
	c->n += (uint32_t)len;
	return 0;
}

/*
 * agg_canon_test: group keys are the canonical encoding of their values, written by hand
 * in aggregate.c; each must be byte for byte what msgpack-c's packer writes. Values come
 * in the widest encodings (int64, uint64, str32), and the emitted group field carries
 * the canonical bytes.
 */
static void test_canon_matches_msgpack(void **unused)
{
	static const char *const keys[] = { "v" };
	static const int64_t ints[] = { 0,	  1,	  127,	     128,	    255,
					256,	  65535,  65536,     4294967295,    4294967296,
					-1,	  -32,	  -33,	     -128,	    -129,
					-32768,	  -32769, INT32_MIN, -2147483649ll, INT64_MIN,
					INT64_MAX };
	static const uint32_t strs[] = { 0, 1, 31, 32, 255, 256, 400 };
	const struct sl_state_ops *ops = desc->state;
	char text[400];
	uint32_t lens[8];
	struct sl_error err;
	void *conf, *st;

	memset(text, 'x', sizeof(text));
	assert_int_equal(init_agg(keys, 1, "all", 64, NULL, 0, &conf, &err), 0);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]) + sizeof(strs) / sizeof(strs[0]) + 2;
	     i++) {
		struct canon_buf want = { .n = 0 };
		uint8_t raw[600];
		uint32_t n_raw = 0;
		struct sl_rec_writer w;
		struct rte_mbuf *ev = begin_event(&w);
		msgpack_packer pk;
		struct sl_val v;
		uint64_t u;

		msgpack_packer_init(&pk, &want, canon_write);
		if (i < sizeof(ints) / sizeof(ints[0])) {
			u = (uint64_t)ints[i];
			raw[n_raw++] = 0xd3;
			msgpack_pack_int64(&pk, ints[i]);
		} else if (i < sizeof(ints) / sizeof(ints[0]) + sizeof(strs) / sizeof(strs[0])) {
			uint32_t len = strs[i - sizeof(ints) / sizeof(ints[0])];

			raw[0] = 0xdb;
			for (int b = 0; b < 4; b++)
				raw[1 + b] = (uint8_t)(len >> (8 * (3 - b)));
			memcpy(raw + 5, text, len);
			n_raw = 5 + len;
			msgpack_pack_str_with_body(&pk, text, len);
			u = 0;
		} else if (i % 2) {
			u = UINT64_MAX - 5;
			raw[n_raw++] = 0xcf;
			msgpack_pack_uint64(&pk, u);
		} else {
			double d = -2.5e-7;

			memcpy(&u, &d, 8);
			raw[n_raw++] = 0xcb;
			msgpack_pack_double(&pk, d);
		}
		if (raw[0] != 0xdb) {
			for (int b = 0; b < 8; b++)
				raw[n_raw++] = (uint8_t)(u >> (8 * (7 - b)));
		}
		sl_rec_put_raw(&w, "v", raw, n_raw);
		ev = end_event(ev, &w);
		st = ops->create(conf);
		process_burst(conf, st, &ev, 1);
		rte_pktmbuf_free(ev);
		assert_int_equal(emit_all(conf, st, recs_a, lens, 8), 1);
		assert_true(sl_rec_find((struct sl_rec){ recs_a[0], lens[0] }, "v", 1, &v));
		if (v.raw_len != want.n || memcmp(v.raw, want.b, want.n) != 0)
			fail_msg("value %zu: %u bytes from the stage, %u from msgpack-c", i,
				 v.raw_len, want.n);
		ops->destroy(conf, st);
	}
	desc->fini(conf);
}

static void test_no_group_by_and_overflow(void **unused)
{
	static const char *const keys[] = { "v" };
	static const char *const aggs[] = { "{ name: total, fn: sum, field: v }",
					    "{ name: n_s, fn: distinct, field: s, p: 4 }",
					    "{ name: m, fn: max, field: s }" };
	const struct sl_state_ops *ops = desc->state;
	struct rte_mbuf *burst[10];
	uint32_t lens[8];
	struct sl_error err;
	void *conf, *st[2];

	/* no group_by, default aggregation: one record {"count": N} */
	assert_int_equal(init_agg(NULL, 0, "all", 1, NULL, 0, &conf, &err), 0);
	st[0] = ops->create(conf);
	for (int i = 0; i < 10; i++)
		burst[i] = make_small(i, "x");
	process_burst(conf, st[0], burst, 10);
	for (int i = 0; i < 10; i++)
		rte_pktmbuf_free(burst[i]);
	assert_int_equal(emit_all(conf, st[0], recs_a, lens, 8), 1);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[0], lens[0] }, "count"), 10);
	ops->destroy(conf, st[0]);
	desc->fini(conf);

	/* 4 groups at most: v = 0..9 keeps 0..3; merging a replica that saw 2..5 loses 4, 5 */
	assert_int_equal(init_agg(keys, 1, "10s", 4, aggs, 3, &conf, &err), 0);
	st[0] = ops->create(conf);
	st[1] = ops->create(conf);
	memset(counters, 0, sizeof(counters));
	for (int i = 0; i < 10; i++)
		burst[i] = make_small(i, i % 2 ? "a" : "b");
	process_burst(conf, st[0], burst, 10);
	assert_int_equal(counters[CNT_GROUPED], 4);
	assert_int_equal(counters[CNT_GROUPS_OVERFLOW], 6);
	/* max of strings is not a number */
	assert_int_equal(counters[CNT_NOT_NUMBER], 4);
	for (int i = 0; i < 10; i++)
		rte_pktmbuf_free(burst[i]);
	for (int i = 2; i < 6; i++)
		burst[i - 2] = make_small(i, "c");
	process_burst(conf, st[1], burst, 4);
	for (int i = 0; i < 4; i++)
		rte_pktmbuf_free(burst[i]);
	ops->merge(conf, st[0], st[1]);
	memset(counters, 0, sizeof(counters));
	assert_int_equal(emit_all(conf, st[0], recs_a, lens, 8), 4);
	assert_int_equal(counters[CNT_GROUPS_OVERFLOW], 2);
	for (int i = 0; i < 4; i++) {
		struct sl_rec r = { recs_a[i], lens[i] };
		struct sl_val v;

		assert_int_equal(rec_int(r, "v"), i);
		assert_int_equal(rec_int(r, "total"), i < 2 ? i : 2 * i);
		assert_int_equal(rec_int(r, "n_s"), i < 2 ? 1 : 2);
		assert_true(sl_rec_find(r, "m", 1, &v));
		assert_int_equal(v.type, SL_VAL_NIL);
	}
	ops->destroy(conf, st[0]);
	ops->destroy(conf, st[1]);
	desc->fini(conf);
}

/* An event whose record is the msgpack bytes b (n of them), written by hand. */
static struct rte_mbuf *make_raw(const char *b, size_t n)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(pool);

	assert_non_null(ev);
	memset(sl_event_meta(meta_off, ev), 0, sizeof(struct sl_meta));
	memcpy(rte_pktmbuf_mtod(ev, char *), b, n);
	ev->data_len = (uint16_t)n;
	ev->pkt_len = (uint32_t)n;
	sl_event_meta(meta_off, ev)->kind = SL_EVENT_RECORD;
	return ev;
}

/*
 * The single-key fast path (aggregate.c, agg_process_fast) keys groups by a value's bytes
 * as they are in the record when they are canonical, and takes the general way otherwise:
 * the same value in every msgpack form must land in one group, a duplicate key counts its
 * first pair, nil or missing keys count as missing_key, and records whose last pairs are
 * near the end or whose keys are not fixstr give the same groups. Expected groups are
 * written out by hand from the records below. with_quantile adds a quantile of w, which
 * takes the batched fast path (agg_process_batch) instead of the one-at-a-time one: the
 * groups and counts must be the same.
 */
static void fast_path_forms(bool with_quantile)
{
	static const char *const keys[] = { "v" };
	static const char *const aggs[] = { "{ name: n, fn: count }",
					    "{ name: sv, fn: sum, field: v }",
					    "{ name: sw, fn: sum, field: w }",
					    "{ name: qw, fn: quantile, field: w, q: 0.5 }" };
#define R(s)                     \
	{                        \
		s, sizeof(s) - 1 \
	}
	static const struct {
		const char *b;
		size_t n;
	} recs[] = {
		/* v = 5 in five forms, w = 1 each; padding "pad" keeps pairs off the end */
		R("\x83\xa1v\x05\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xcc\x05\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xd0\x05\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xcd\x00\x05\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xd3\x00\x00\x00\x00\x00\x00\x00\x05\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		/* v = 5 at the record's very end (no 16 bytes left) */
		R("\x82\xa1w\x01\xa1v\x05"),
		/* v = 200: 0xcc 0xc8 (canonical), 0xcd 0x00 0xc8, 0xd1 0x00 0xc8 */
		R("\x83\xa1v\xcc\xc8\xa1w\x02\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xcd\x00\xc8\xa1w\x02\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xd1\x00\xc8\xa1w\x02\xa3pad\xa9xxxxxxxxx"),
		/* v = "ab": fixstr, str8, str16; a str8 key "v" */
		R("\x83\xa1v\xa2"
		  "ab\xa1w\x03\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xd9\x02"
		  "ab\xa1w\x03\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xa1v\xda\x00\x02"
		  "ab\xa1w\x03\xa3pad\xa9xxxxxxxxx"),
		R("\x83\xd9\x01v\xa2"
		  "ab\xa1w\x03\xa3pad\xa9xxxxxxxxx"),
		/* duplicate v: the first pair (5) counts; w twice: the first (1) */
		R("\x84\xa1v\x05\xa1w\x01\xa1v\xa2"
		  "ab\xa1w\x07\xa9xxxxxxxxx"),
		/* w before v, a container value before both */
		R("\x83\xa1m\x91\x01\xa1w\x04\xa1v\x05\xa3pad\xa9xxxxxxxxx"),
		/* nil v and missing v: one nil group, missing_key 2; w missing: missing_field */
		R("\x83\xa1v\xc0\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		R("\x82\xa1w\x01\xa3pad\xa9xxxxxxxxx"),
		R("\x82\xa1v\x05\xa3pad\xa9xxxxxxxxx"),
	};
#undef R
	const struct sl_state_ops *ops = desc->state;
	struct rte_mbuf *burst[32];
	const uint32_t n = sizeof(recs) / sizeof(recs[0]);
	uint32_t lens[8];
	struct sl_error err;
	void *conf, *st;
	struct sl_val v;

	assert_int_equal(init_agg(keys, 1, "all", 16, aggs, with_quantile ? 4 : 3, &conf, &err), 0);
	st = ops->create(conf);
	memset(counters, 0, sizeof(counters));
	for (uint32_t i = 0; i < n; i++)
		burst[i] = make_raw(recs[i].b, recs[i].n);
	process_burst(conf, st, burst, (uint16_t)n);
	for (uint32_t i = 0; i < n; i++)
		rte_pktmbuf_free(burst[i]);
	assert_int_equal(counters[CNT_GROUPED], n);
	assert_int_equal(counters[CNT_MISSING_KEY], 2);
	assert_int_equal(counters[CNT_MISSING_FIELD], with_quantile ? 4 : 3);
	/* groups sorted: nil, 5, 200, "ab" */
	assert_int_equal(emit_all(conf, st, recs_a, lens, 8), 4);
	assert_true(sl_rec_find((struct sl_rec){ recs_a[0], lens[0] }, "v", 1, &v));
	assert_int_equal(v.type, SL_VAL_NIL);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[0], lens[0] }, "n"), 2);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[0], lens[0] }, "sw"), 2);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[1], lens[1] }, "v"), 5);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[1], lens[1] }, "n"), 9);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[1], lens[1] }, "sv"), 45);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[1], lens[1] }, "sw"), 11);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[2], lens[2] }, "v"), 200);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[2], lens[2] }, "n"), 3);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[2], lens[2] }, "sw"), 6);
	assert_true(sl_rec_find((struct sl_rec){ recs_a[3], lens[3] }, "v", 1, &v));
	assert_int_equal(v.type, SL_VAL_STR);
	assert_int_equal(v.s.len, 2);
	assert_memory_equal(v.s.p, "ab", 2);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[3], lens[3] }, "n"), 4);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[3], lens[3] }, "sw"), 12);
	ops->destroy(conf, st);
	desc->fini(conf);
}

static void test_fast_path_forms(void **unused)
{
	fast_path_forms(false);
}

static void test_fast_path_forms_batched(void **unused)
{
	fast_path_forms(true);
}

static void test_emit_resumes_after_empty_pool(void **unused)
{
	static const char *const keys[] = { "s" };
	const struct sl_state_ops *ops = desc->state;
	struct rte_mbuf *hold[128], *burst[3];
	struct sl_error err;
	uint64_t cursor = 0;
	unsigned n = 0;
	void *conf, *st;

	assert_int_equal(init_agg(keys, 1, "all", 16, NULL, 0, &conf, &err), 0);
	st = ops->create(conf);
	for (int i = 0; i < 3; i++)
		burst[i] = make_small(0, i == 0 ? "c" : i == 1 ? "b" : "a");
	process_burst(conf, st, burst, 3);
	for (int i = 0; i < 3; i++)
		rte_pktmbuf_free(burst[i]);
	host_priv.pool = tiny_pool;
	while (n < 128 && (hold[n] = rte_pktmbuf_alloc(tiny_pool)))
		n++;
	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	assert_true(ops->emit(conf, st, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 0);
	rte_pktmbuf_free(hold[--n]);
	assert_true(ops->emit(conf, st, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 1);
	assert_int_equal(cursor, 1);
	while (n > 0)
		rte_pktmbuf_free(hold[--n]);
	assert_false(ops->emit(conf, st, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 3);
	for (int i = 0; i < 3; i++) {
		struct sl_val v;
		assert_true(sl_rec_find(sl_event_record(&ctx, out.port[0][i]), "s", 1, &v));
		assert_int_equal(v.s.p[0], 'a' + i);
		rte_pktmbuf_free(out.port[0][i]);
	}
	host_priv.pool = pool;
	ops->destroy(conf, st);
	desc->fini(conf);
}

/* {"k": k, "t": ...} with t an integer, a float, a string or (type 0) missing. */
static struct rte_mbuf *make_timed(const char *k, int type, int64_t i, double f, const char *str)
{
	struct sl_rec_writer w;
	struct rte_mbuf *ev = begin_event(&w);

	sl_rec_put_str(&w, "k", k, strlen(k));
	if (type == 1)
		sl_rec_put_int(&w, "t", i);
	else if (type == 2)
		sl_rec_put_float(&w, "t", f);
	else if (type == 3)
		sl_rec_put_str(&w, "t", str, strlen(str));
	return end_event(ev, &w);
}

static void test_event_time_parse(void **unused)
{
	/* epoch seconds from Python: calendar.timegm((2023, 10, 10, 11, 55, 36, 0, 0, 0)) */
	const int64_t t0 = 1696938936ll * 1000000000;
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",
		"10/Foo/2023:13:55:36 +0200",
		"2023-10-10T11:55:36",
		"2300-01-01T00:00:00Z",
		"2023-10-10T11:55:36.1234567891Z",
		"10/Oct/2023:13:55:36 +02:00",
		"2023-10-10T11:55:36.Z",
		"",
		"2023-10-10T25:00:00Z",
		"10/Oct/2023:13:55:36 +0200 ",
	};
	int64_t ns;

	assert_true(sl_agg_time_parse("10/Oct/2023:13:55:36 +0200", 26, &ns));
	assert_int_equal(ns, t0);
	assert_true(sl_agg_time_parse("2023-10-10T11:55:36Z", 20, &ns));
	assert_int_equal(ns, t0);
	assert_true(sl_agg_time_parse("2023-10-10 13:55:36.25+02:00", 28, &ns));
	assert_int_equal(ns, t0 + 250000000);
	assert_true(sl_agg_time_parse("2023-10-10t06:25:36.000000001-05:30", 35, &ns));
	assert_int_equal(ns, t0 + 1);
	/* calendar.timegm((2024, 2, 29, 12, 0, 0, 0, 0, 0)) and before 1970 */
	assert_true(sl_agg_time_parse("29/Feb/2024:12:00:00 +0000", 26, &ns));
	assert_int_equal(ns, 1709208000ll * 1000000000);
	assert_true(sl_agg_time_parse("1969-12-31T23:59:59.5Z", 22, &ns));
	assert_int_equal(ns, -500000000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sl_agg_time_parse(bad[i], strlen(bad[i]), &ns))
			fail_msg("'%s' parsed", bad[i]);
	assert_int_equal(sl_agg_time_bucket(-1, 10), -10);
	assert_int_equal(sl_agg_time_bucket(15, 10), 10);
	assert_int_equal(sl_agg_time_bucket(-10, 10), -10);
}

static void test_event_time_buckets(void **unused)
{
	const int64_t m0 = 1696938900ll * 1000000000, m1 = m0 + 60ll * 1000000000;
	const struct {
		int64_t start; /* INT64_MIN: null */
		const char *k;
		int64_t count;
	} want[] = { { INT64_MIN, "a", 2 }, { m0, "a", 2 }, { m0, "b", 1 }, { m1, "a", 1 } };
	const struct sl_state_ops *ops = desc->state;
	struct rte_mbuf *burst[6];
	uint32_t lens[8];
	struct sl_error err;
	void *conf, *st;

	assert_int_equal(init_event("1m", "s", &conf, &err), 0);
	st = ops->create(conf);
	memset(counters, 0, sizeof(counters));
	burst[0] = make_timed("a", 1, 1696938936, 0, NULL);
	burst[1] = make_timed("a", 3, 0, 0, "10/Oct/2023:13:55:36 +0200");
	burst[2] = make_timed("a", 3, 0, 0, "2023-10-10T11:56:00Z");
	burst[3] = make_timed("b", 2, 0, 1696938936.5, NULL);
	burst[4] = make_timed("a", 0, 0, 0, NULL);
	burst[5] = make_timed("a", 3, 0, 0, "yesterday");
	process_burst(conf, st, burst, 6);
	for (int i = 0; i < 6; i++)
		rte_pktmbuf_free(burst[i]);
	assert_int_equal(counters[CNT_GROUPED], 6);
	assert_int_equal(counters[9], 2); /* bad_time */
	assert_int_equal(emit_all(conf, st, recs_a, lens, 8), 4);
	for (int i = 0; i < 4; i++) {
		struct sl_rec r = { recs_a[i], lens[i] };
		struct sl_val v;

		assert_true(sl_rec_find(r, "window_start", 12, &v));
		if (want[i].start == INT64_MIN) {
			assert_int_equal(v.type, SL_VAL_NIL);
		} else {
			assert_int_equal(v.type, SL_VAL_INT);
			assert_int_equal(v.i, want[i].start);
		}
		assert_true(sl_rec_find(r, "k", 1, &v));
		assert_memory_equal(v.s.p, want[i].k, 1);
		assert_int_equal(rec_int(r, "count"), want[i].count);
	}
	ops->destroy(conf, st);
	desc->fini(conf);
	/* numeric times in other units */
	assert_int_equal(init_event("1s", "ms", &conf, &err), 0);
	st = ops->create(conf);
	burst[0] = make_timed("a", 1, 1500, 0, NULL);
	process_burst(conf, st, burst, 1);
	rte_pktmbuf_free(burst[0]);
	assert_int_equal(emit_all(conf, st, recs_a, lens, 8), 1);
	assert_int_equal(rec_int((struct sl_rec){ recs_a[0], lens[0] }, "window_start"),
			 1000000000);
	ops->destroy(conf, st);
	desc->fini(conf);
	/* parameter errors */
	assert_int_equal(init_event(NULL, "s", &conf, &err), -EINVAL);
	assert_string_equal(err.key, "event_time");
	assert_int_equal(init_event("all", "s", &conf, &err), -EINVAL);
	assert_string_equal(err.key, "event_window");
	assert_int_equal(init_event("1m", "days", &conf, &err), -EINVAL);
	assert_string_equal(err.key, "event_time_unit");
}

/* A time-window configuration: group_by [k], count, time_window from name/value pairs. */
static int init_tw(const char *const *pairs, uint32_t n, const char *window, void **conf,
		   struct sl_error *err)
{
	static const char *const keys[] = { "k" };
	struct sl_arg v[3] = {
		{ .key = "group_by", .type = SL_PARAM_LIST, .str = "k", .list = keys, .n_list = 1 },
		{ .key = "window", .type = SL_PARAM_STR, .str = window },
		{ .key = "time_window",
		  .type = SL_PARAM_MAP,
		  .str = "",
		  .list = pairs,
		  .n_list = n },
	};
	struct sl_args args = { .file = "t.yaml", .name = "stats", .n = 3, .v = v };

	memset(err, 0, sizeof(*err));
	return desc->init(&sl_host_table, &args, conf, err);
}

static void expect_tw_error(const char *const *pairs, uint32_t n, uint32_t item, const char *want)
{
	struct sl_error err;
	void *conf;

	if (init_tw(pairs, n, "1s", &conf, &err) != -EINVAL)
		fail_msg("time_window '%s: %s' accepted", pairs[0], pairs[1]);
	assert_string_equal(err.key, "time_window");
	assert_int_equal(err.item, item);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
}

/* Process one timed event with {"k": k, "t": seconds}; returns the port it left on (1:
 * late), or -1 when dropped. */
static int tw_one(const void *conf, void *state, const char *k, int64_t t_s)
{
	struct rte_mbuf *ev = make_timed(k, 1, t_s, 0, NULL);
	struct sl_burst in = { .ev = &ev, .n = 1 };

	memset(&out, 0, sizeof(out));
	out.n_ports = 2;
	ctx.state = state;
	desc->process(conf, &ctx, &in, &out);
	if (out.n[1]) {
		rte_pktmbuf_free(out.port[1][0]);
		return 1;
	}
	assert_int_equal(out.n_drop, 1);
	rte_pktmbuf_free(ev);
	return out.drop_reason[0] == SL_DROP_CONSUMED ? 0 : -1;
}

/* Emit a closed state while `current` is the closer's current state (the final close:
 * current == closed); records as "start/end/k/count" lines into buf. */
static unsigned tw_close(const void *conf, void *closed, void *current, char *buf, size_t len)
{
	uint32_t lens[8];
	unsigned n;

	ctx.state = current;
	n = emit_all(conf, closed, recs_a, lens, 8);
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		struct sl_rec r = { recs_a[i], lens[i] };
		struct sl_val v;
		size_t at = strlen(buf);

		assert_true(sl_rec_find(r, "k", 1, &v));
		snprintf(buf + at, len - at, "%lld/%lld/%.*s/%lld ",
			 (long long)(rec_int(r, "window_start") / 1000000000),
			 (long long)(rec_int(r, "window_end") / 1000000000), (int)v.s.len, v.s.p,
			 (long long)rec_int(r, "count"));
	}
	desc->state->reset(conf, closed);
	return n;
}

/*
 * Time windows through the runtime's protocol by hand: replicas A and B with two states
 * each; a periodic close merges the states they flipped away from, emits what the
 * watermark (the lesser of their latest times, less the lateness) closed, and carries the
 * open panes into the closer's current state; then the final close.
 */
static void test_time_windows(void **unused)
{
	static const char *const sliding[] = { "type", "sliding",    "size", "20s",	  "slide",
					       "10s",  "time_field", "t",    "time_unit", "s" };
	const struct sl_state_ops *ops = desc->state;
	void *a0, *a1, *b0, *b1, *conf;
	struct sl_error err;
	char got[512];

	memset(counters, 0, sizeof(counters));
	assert_int_equal(init_tw(sliding, 10, "1s", &conf, &err), 0);
	a0 = ops->create(conf);
	a1 = ops->create(conf);
	b0 = ops->create(conf);
	b1 = ops->create(conf);
	/* A to t = 35 s, B to t = 24 s: the watermark is 24 s, windows ending at 10 and 20;
	 * the panes from 10 s on are carried into A's current state. */
	assert_int_equal(tw_one(conf, a0, "x", 5), 0);
	assert_int_equal(tw_one(conf, a0, "x", 15), 0);
	assert_int_equal(tw_one(conf, a0, "x", 35), 0);
	assert_int_equal(tw_one(conf, b0, "x", 12), 0);
	assert_int_equal(tw_one(conf, b0, "x", 11), 0); /* out of order, not late */
	assert_int_equal(tw_one(conf, b0, "y", 24), 0);
	ops->merge(conf, a0, b0);
	ops->reset(conf, b0);
	assert_int_equal(tw_close(conf, a0, a1, got, sizeof(got)), 2);
	assert_string_equal(got, "-10/10/x/1 0/20/x/4 ");
	ops->merge(conf, b0, a0); /* the runtime tells B's next state the closed mark */
	/* A's current state knows its latest time, 35 s: t = 19 s is late, 36 s is not. */
	assert_int_equal(tw_one(conf, a1, "x", 19), 1);
	assert_int_equal(tw_one(conf, a1, "x", 36), 0);
	assert_int_equal(counters[10], 1); /* late */
	/* B's current state (b1) has not heard: t = 8 s is folded, then found at the close. */
	assert_int_equal(tw_one(conf, b1, "x", 8), 0);
	assert_int_equal(tw_one(conf, b0, "x", 9), 1); /* b0 heard */
	/* Times whose pane or windows leave int64 nanoseconds: bad_time, dropped. */
	assert_int_equal(tw_one(conf, b1, "x", -9223372036), -1);
	assert_int_equal(tw_one(conf, b1, "x", 9223372036), -1);
	assert_int_equal(counters[9], 2);
	/* Final close: everything into A's current state. */
	ops->merge(conf, a1, b1);
	ops->merge(conf, a1, a0);
	ops->merge(conf, a1, b0);
	assert_int_equal(tw_close(conf, a1, a1, got, sizeof(got)), 5);
	assert_string_equal(got, "10/30/x/3 10/30/y/1 20/40/x/2 20/40/y/1 30/50/x/2 ");
	assert_int_equal(counters[10], 3);
	assert_int_equal(counters[11], 1); /* late_at_close */
	ops->destroy(conf, a0);
	ops->destroy(conf, a1);
	ops->destroy(conf, b0);
	ops->destroy(conf, b1);
	desc->fini(conf);
}

static int cmp_double_asc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * A quantile over time windows: each window's sketch is its panes' sketches merged into a
 * block (and DDSketch pages) of its own, used again for every window. The values span ~6
 * pages of bins (e^-10 to e^10 at alpha 0.01), so each window's result must be exactly the
 * estimate of the bin of its rank-floor(q (n - 1)) value, 2 gamma^k / (gamma + 1) with k =
 * ceil(ln v / ln gamma), computed here from the window's values; pages left over from the
 * previous window or taken from the wrong slot would move it.
 */
static void test_time_window_quantile(void **unused)
{
	static const char *const sliding[] = { "type",
					       "sliding",
					       "size",
					       "20s",
					       "slide",
					       "10s",
					       "time_field",
					       "t",
					       "time_unit",
					       "s",
					       "allowed_lateness",
					       "60s" };
	static const char *const keys[] = { "k" };
	static const char *const aggs[] = { "{ name: p, fn: quantile, field: v, q: 0.3 }" };
	static uint8_t recs[16][2048];
	enum { N_EV = 400 };
	struct sl_arg v[4] = {
		{ .key = "group_by", .type = SL_PARAM_LIST, .str = "k", .list = keys, .n_list = 1 },
		{ .key = "window", .type = SL_PARAM_STR, .str = "1s" },
		{ .key = "time_window",
		  .type = SL_PARAM_MAP,
		  .str = "",
		  .list = sliding,
		  .n_list = 12 },
		{ .key = "aggregations",
		  .type = SL_PARAM_LIST,
		  .str = "",
		  .list = aggs,
		  .n_list = 1 },
	};
	struct sl_args args = { .file = "t.yaml", .name = "stats", .n = 4, .v = v };
	const double gamma = 1.01 / 0.99;
	static int64_t ts[N_EV];
	static double vs[N_EV];
	static char ks[N_EV];
	uint32_t lens[16];
	struct sl_error err;
	void *conf, *st;
	unsigned n;

	memset(counters, 0, sizeof(counters));
	memset(&err, 0, sizeof(err));
	assert_int_equal(desc->init(&sl_host_table, &args, &conf, &err), 0);
	st = desc->state->create(conf);
	assert_non_null(st);
	x_rng = 4242;
	for (int i = 0; i < N_EV; i++) {
		struct sl_rec_writer w;
		struct rte_mbuf *ev = begin_event(&w);
		struct sl_burst in = { .ev = &ev, .n = 1 };

		ks[i] = rnd(3) ? 'x' : 'y';
		ts[i] = rnd(40);
		/* e^-10 .. e^10, and e^+-5 more in the later half: the top moves up and down */
		vs[i] = exp(-10 + 20 * rnd(100000) / 100000.0 + (ts[i] >= 20 ? 5 : 0));
		sl_rec_put_str(&w, "k", &ks[i], 1);
		sl_rec_put_int(&w, "t", ts[i]);
		sl_rec_put_float(&w, "v", vs[i]);
		ev = end_event(ev, &w);
		memset(&out, 0, sizeof(out));
		out.n_ports = 2;
		ctx.state = st;
		desc->process(conf, &ctx, &in, &out);
		assert_int_equal(out.n_drop, 1);
		assert_int_equal(out.drop_reason[0], SL_DROP_CONSUMED);
		rte_pktmbuf_free(ev);
	}
	ctx.state = st; /* the final close */
	n = emit_all(conf, st, recs, lens, 16);
	/* windows ending at 10, 20, 30, 40, 50 s, keys x and y */
	assert_int_equal(n, 10);
	for (unsigned r = 0; r < n; r++) {
		struct sl_rec rec = { recs[r], lens[r] };
		int64_t end = rec_int(rec, "window_end") / 1000000000;
		struct sl_val kv;
		double win[N_EV], want, got;
		size_t m = 0;
		int64_t key;

		assert_true(sl_rec_find(rec, "k", 1, &kv));
		for (int i = 0; i < N_EV; i++)
			if (ks[i] == kv.s.p[0] && ts[i] >= end - 20 && ts[i] < end)
				win[m++] = vs[i];
		assert_true(m > 10);
		qsort(win, m, sizeof(win[0]), cmp_double_asc);
		key = (int64_t)ceil(log(win[(size_t)(0.3 * (double)(m - 1))]) / log(gamma));
		want = 2 * pow(gamma, (double)key) / (gamma + 1);
		got = rec_float(rec, "p");
		if (fabs(got - want) > 1e-9 * want)
			fail_msg("window ending %llds, key %c: p %.17g, bin %lld's estimate %.17g",
				 (long long)end, kv.s.p[0], got, (long long)key, want);
	}
	desc->state->destroy(conf, st);
	desc->fini(conf);
}

static void test_time_window_errors(void **unused)
{
	static const char *const ok[] = { "type", "tumbling", "size", "1m" };
	static const char *const proc[] = { "type", "sliding", "size", "1m", "slide", "20s" };
	static const char *const bad_type[] = { "type", "hopping", "size", "1m" };
	static const char *const no_size[] = { "type", "tumbling" };
	static const char *const no_slide[] = { "type", "sliding", "size", "1m" };
	static const char *const tumbling_slide[] = { "type", "tumbling", "size",
						      "1m",   "slide",	  "1s" };
	static const char *const uneven[] = { "type", "sliding", "size", "1m", "slide", "7s" };
	static const char *const many[] = { "type", "sliding", "size", "1h", "slide", "1s" };
	static const char *const lateness[] = { "type", "tumbling",	    "size",
						"1m",	"allowed_lateness", "soon" };
	static const char *const late[] = { "type", "tumbling", "size", "1m", "late", "keep" };
	static const char *const unit[] = { "type", "tumbling", "time_field", "t",
					    "size", "1m",	"time_unit",  "days" };
	static const char *const unit_proc[] = {
		"type", "tumbling", "size", "1m", "time_unit", "s"
	};
	static const char *const colour[] = { "type", "tumbling", "colour", "red" };
	struct sl_error err;
	void *conf;

	assert_int_equal(init_tw(ok, 4, "1s", &conf, &err), 0);
	desc->fini(conf);
	assert_int_equal(init_tw(proc, 6, "all", &conf, &err), 0);
	desc->fini(conf);
	expect_tw_error(bad_type, 4, 1, "expected tumbling or sliding");
	expect_tw_error(tumbling_slide, 6, 3, "only for type sliding");
	expect_tw_error(uneven, 6, 3, "must divide size");
	expect_tw_error(many, 6, 3, "at most 1024");
	expect_tw_error(lateness, 6, 3, "allowed_lateness: expected 0 or a duration");
	expect_tw_error(late, 6, 3, "late: expected route or drop");
	expect_tw_error(unit, 8, 4, "time_unit: expected s, ms, us or ns");
	expect_tw_error(unit_proc, 6, 3, "only with time_field");
	expect_tw_error(colour, 4, 2, "unknown key 'colour'");
	assert_int_equal(init_tw(no_size, 2, "1s", &conf, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "needs 'size'"));
	assert_int_equal(init_tw(no_slide, 4, "1s", &conf, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "needs 'slide'"));
}

static void expect_agg_error(const char *item, const char *want)
{
	static const char *const keys[] = { "status" };
	struct sl_error err;
	void *conf;

	if (init_agg(keys, 1, "all", 16, &item, 1, &conf, &err) != -EINVAL)
		fail_msg("'%s' accepted", item);
	assert_string_equal(err.key, "aggregations");
	if (!strstr(err.msg, want))
		fail_msg("'%s': message '%s' lacks '%s'", item, err.msg, want);
}

static void test_init_errors(void **unused)
{
	static const char *const keys[] = { "status" }, *const twice[] = { "a", "a" };
	static const char *const dup[] = { "{ name: x, fn: count }", "{ name: x, fn: count }" };
	struct sl_error err;
	void *conf;

	expect_agg_error("{ name: a, fn: quantil, field: b }", "unknown function 'quantil'");
	expect_agg_error("{ name: a, fn: sum }", "needs 'field'");
	expect_agg_error("{ name: a, fn: quantile, field: b }", "needs 'q'");
	expect_agg_error("{ name: a, fn: quantile, field: b, q: 1.5 }", "q: expected a number");
	expect_agg_error("{ name: a, fn: quantile, field: b, q: 0.5, error: 0.5 }", "error:");
	expect_agg_error("{ name: a, fn: distinct, field: b, p: 20 }", "p: expected an integer");
	expect_agg_error("{ name: a, fn: top_k, field: b, k: 3, capacity: 2 }", "capacity:");
	expect_agg_error("{ name: a, fn: count, q: 0.5 }", "'q' does not apply to fn count");
	expect_agg_error("{ name: a, fn: count, colour: red }", "unknown key 'colour'");
	expect_agg_error("{ name: a, name: b, fn: count }", "'name' given twice");
	expect_agg_error("{ name: a, fn: count", "missing '}'");
	expect_agg_error("{ fn: count }", "missing 'name'");
	expect_agg_error("{ name: status, fn: count }", "also a group_by field");
	expect_agg_error("{ name: 'a, fn: count }", "unterminated string");
	expect_agg_error("{ name: a fn: count }", "missing 'fn'");
	assert_int_equal(init_agg(keys, 1, "all", 16, dup, 2, &conf, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "used twice"));
	assert_int_equal(init_agg(twice, 2, "all", 16, NULL, 0, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "group_by");
	assert_int_equal(init_agg(keys, 1, "5x", 16, NULL, 0, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "window");
	assert_int_equal(init_agg(keys, 1, "all", 0, NULL, 0, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "max_groups");
	assert_int_equal(init_agg(keys, 1, "all", (1 << 20) + 1, NULL, 0, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "max_groups");
	assert_int_equal(init_agg(keys, 1, "250ms", 1, all_aggs, 11, &conf, &err), 0);
	desc->fini(conf);
}

static void test_pool_clean(void **unused)
{
	assert_int_equal(rte_mempool_avail_count(pool), 2048);
	assert_int_equal(rte_mempool_avail_count(tiny_pool), 128);
}

static void test_descriptor_checks(void **unused)
{
	char err[256] = "";

	if (sl_stage_desc_check(desc, err, sizeof(err)) != 0)
		fail_msg("descriptor rejected: %s", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_checks),
		cmocka_unit_test(test_merge_equals_single),
		cmocka_unit_test(test_no_group_by_and_overflow),
		cmocka_unit_test(test_emit_resumes_after_empty_pool),
		cmocka_unit_test(test_event_time_parse),
		cmocka_unit_test(test_event_time_buckets),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_canon_matches_msgpack),
		cmocka_unit_test(test_fast_path_forms),
		cmocka_unit_test(test_fast_path_forms_batched),
		cmocka_unit_test(test_time_windows),
		cmocka_unit_test(test_time_window_quantile),
		cmocka_unit_test(test_time_window_errors),
		cmocka_unit_test(test_pool_clean),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
