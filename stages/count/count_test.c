/*
 * Unit test of the count stage: deterministic pseudo-random records (integers of every
 * msgpack width, some encoded wastefully, strings, missing keys, events without a record)
 * are folded by process() into two replica states, merged and emitted; every group's
 * count, the output order and the totals are checked against counts the test keeps
 * itself from the generated values (not from encodings). Also: table overflow, emit
 * resuming after an empty pool, reset, and init's parameter errors.
 */
#include <errno.h>
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
#include "plugin/registry.h"

static struct rte_mempool *pool, *tiny_pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static struct sl_ctx_host host_priv;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx ctx;
static struct sl_emit out;

/* A key value as the test models it. */
enum { V_NIL = 0, V_INT = 1, V_STR = 2 };
struct model {
	int type;
	int64_t i;
	char s[48];
	uint64_t count;
};

static struct model groups[1024];
static unsigned n_groups;

static int setup(void **unused)
{
	pool = sl_test_pool(1024, 512, &meta_off);
	tiny_pool = sl_test_pool(128, 512, &meta_off);
	desc = sl_test_builtin("count");
	ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "count");
	return 0;
}

static int init_count(const char *key, const char *window, int64_t max_groups, void **conf,
		      struct sl_error *err)
{
	char mg[32];
	struct sl_arg v[3] = {
		{ .key = "key", .type = SL_PARAM_STR, .str = key },
		{ .key = "window", .type = SL_PARAM_STR, .str = window },
		{ .key = "max_groups", .type = SL_PARAM_INT, .str = mg, .i = max_groups },
	};
	struct sl_args args = { .file = "t.yaml", .name = "count", .n = 3, .v = v };

	snprintf(mg, sizeof(mg), "%lld", (long long)max_groups);
	memset(err, 0, sizeof(*err));
	return desc->init(&sl_host_table, &args, conf, err);
}

static struct model *model_find(const struct model *m)
{
	for (unsigned i = 0; i < n_groups; i++) {
		struct model *g = &groups[i];
		if (g->type == m->type && (m->type != V_INT || g->i == m->i) &&
		    (m->type != V_STR || strcmp(g->s, m->s) == 0))
			return g;
	}
	return NULL;
}

static void model_add(const struct model *m)
{
	struct model *g = model_find(m);

	if (!g) {
		g = &groups[n_groups++];
		*g = *m;
		g->count = 0;
	}
	g->count++;
}

/* An event whose record holds the value (or no "k" / no record at all). */
static struct rte_mbuf *make_event(const struct model *m, int wasteful, int no_record)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(pool);
	struct sl_meta *meta;
	struct sl_rec_writer w;
	uint32_t len;

	assert_non_null(ev);
	meta = sl_event_meta(meta_off, ev);
	memset(meta, 0, sizeof(*meta));
	if (no_record) {
		memcpy(rte_pktmbuf_mtod(ev, char *), "a line", 6);
		ev->data_len = 6;
		ev->pkt_len = 6;
		meta->kind = SL_EVENT_LINE;
		meta->raw_len = 6;
		return ev;
	}
	sl_rec_begin(&w, rte_pktmbuf_mtod(ev, void *), rte_pktmbuf_tailroom(ev));
	sl_rec_put_str(&w, "other", "x", 1);
	if (m->type == V_INT && wasteful) {
		/* int64 encoding of a small value: must group with the shortest one */
		uint8_t raw[9] = { 0xd3 };
		for (int b = 0; b < 8; b++)
			raw[1 + b] = (uint8_t)((uint64_t)m->i >> (56 - 8 * b));
		sl_rec_put_raw(&w, "k", raw, sizeof(raw));
	} else if (m->type == V_INT) {
		sl_rec_put_int(&w, "k", m->i);
	} else if (m->type == V_STR && wasteful) {
		/* str16 header for a short string */
		uint8_t raw[64] = { 0xda, 0, (uint8_t)strlen(m->s) };
		memcpy(raw + 3, m->s, strlen(m->s));
		sl_rec_put_raw(&w, "k", raw, 3 + (uint32_t)strlen(m->s));
	} else if (m->type == V_STR) {
		sl_rec_put_str(&w, "k", m->s, strlen(m->s));
	}
	sl_rec_put_int(&w, "n", 7);
	len = sl_rec_end(&w);
	assert_true(len > 0);
	ev->data_len = (uint16_t)len;
	ev->pkt_len = len;
	meta->kind = SL_EVENT_RECORD;
	return ev;
}

static void process_burst(const void *conf, struct rte_mbuf **evs, uint16_t n)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	desc->process(conf, &ctx, &in, &out);
	assert_int_equal(out.n[0], 0);
	assert_int_equal(out.n_drop, n);
	for (uint16_t i = 0; i < n; i++) {
		assert_ptr_equal(out.drop[i], evs[i]);
		assert_int_equal(out.drop_reason[i], SL_DROP_CONSUMED);
		rte_pktmbuf_free(evs[i]);
	}
}

static int model_cmp(const void *a, const void *b)
{
	const struct model *x = a, *y = b;

	if (x->type != y->type)
		return x->type - y->type; /* nil, then integers, then strings */
	if (x->type == V_INT)
		return (x->i > y->i) - (x->i < y->i);
	if (x->type == V_STR)
		return strcmp(x->s, y->s);
	return 0;
}

/* Emit everything from state; returns the number of records, checked one by one against
 * groups[] sorted. */
static unsigned emit_all(const void *conf, void *state)
{
	uint64_t cursor = 0;
	unsigned k = 0, calls = 0;
	bool more;

	qsort(groups, n_groups, sizeof(groups[0]), model_cmp);
	do {
		memset(&out, 0, sizeof(out));
		out.n_ports = 1;
		more = desc->state->emit(conf, state, &cursor, &ctx, &out);
		calls++;
		assert_true(out.n[0] <= SL_EMIT_CAP);
		assert_int_equal(out.n_drop, 0);
		for (unsigned i = 0; i < out.n[0]; i++, k++) {
			struct rte_mbuf *m = out.port[0][i];
			struct sl_meta *meta = sl_event_meta(meta_off, m);
			struct sl_rec r = sl_event_record(&ctx, m);
			const struct model *g = &groups[k];
			struct sl_val v = { 0 }, c = { 0 };

			assert_true(k < n_groups);
			assert_int_equal(meta->kind, SL_EVENT_RECORD);
			assert_int_equal(meta->rec_off, 0);
			assert_int_equal(meta->raw_len, 0);
			assert_true(sl_rec_find(r, "k", 1, &v));
			assert_true(sl_rec_find(r, "count", 5, &c));
			assert_int_equal(c.type, SL_VAL_INT);
			if (g->type == V_NIL) {
				assert_int_equal(v.type, SL_VAL_NIL);
			} else if (g->type == V_INT) {
				assert_int_equal(v.type, SL_VAL_INT);
				assert_int_equal(v.i, g->i);
				/* shortest encoding: fixints are one byte */
				if (g->i >= -32 && g->i < 128)
					assert_int_equal(v.raw_len, 1);
			} else {
				assert_int_equal(v.type, SL_VAL_STR);
				assert_int_equal(v.s.len, strlen(g->s));
				assert_memory_equal(v.s.p, g->s, v.s.len);
			}
			if ((uint64_t)c.i != g->count)
				fail_msg("group %u: count %lld, expected %llu", k, (long long)c.i,
					 (unsigned long long)g->count);
			rte_pktmbuf_free(m);
		}
	} while (more);
	assert_int_equal(k, n_groups);
	assert_true(calls >= (n_groups + SL_EMIT_CAP - 1) / SL_EMIT_CAP);
	return k;
}

static const char *const strs[] = {
	"a",	       "b", "GET", "POST",
	"/index.html", "",  "zz",  "a string longer than thirty-one bytes, str8",
};

static void test_two_replicas_merge_emit(void **unused)
{
	const struct sl_state_ops *ops;
	struct sl_error err;
	void *conf, *st[2];
	struct rte_mbuf *burst[64];
	uint64_t x = 12345, missing = 0, total = 0;
	unsigned nb = 0, replica = 0;

	assert_int_equal(init_count("k", "all", 1000, &conf, &err), 0);
	ops = desc->state;
	assert_non_null(ops);
	assert_true(desc->flags & SL_STAGE_F_WINDOWED);
	st[0] = ops->create(conf);
	st[1] = ops->create(conf);
	assert_non_null(st[0]);
	assert_non_null(st[1]);
	memset(counters, 0, sizeof(counters));
	n_groups = 0;

	for (int e = 0; e < 5000; e++) {
		struct model m = { 0 };
		int wasteful = 0, no_record = 0;
		unsigned r;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		r = (unsigned)(x >> 33);
		switch (r % 12) {
		case 0:
			m.type = V_NIL; /* "k" missing */
			break;
		case 1:
			m.type = V_NIL;
			no_record = 1;
			break;
		case 2:
		case 3:
			m.type = V_STR;
			snprintf(m.s, sizeof(m.s), "%s", strs[(r >> 4) % 8]);
			wasteful = (r >> 8) & 1;
			break;
		case 4:
			m.type = V_INT;
			m.i = (int64_t)((r >> 4) % 7) - 3;
			wasteful = 1;
			break;
		case 5:
			/* wide values: int16, int32 and int64 range */
			m.type = V_INT;
			m.i = (int64_t)(1ull << (8 + ((r >> 5) % 4) * 12));
			if ((r >> 4) & 1)
				m.i = -m.i;
			break;
		default:
			m.type = V_INT;
			m.i = (int64_t)((r >> 4) % 341) - 40; /* -40..300 */
			break;
		}
		model_add(&m);
		if (m.type == V_NIL)
			missing++;
		total++;
		burst[nb++] = make_event(&m, wasteful, no_record);
		if (nb == 64 || e == 4999) {
			ctx.state = st[replica];
			process_burst(conf, burst, (uint16_t)nb);
			replica ^= 1;
			nb = 0;
		}
	}
	assert_int_equal(counters[0], total);	/* counted */
	assert_int_equal(counters[1], missing); /* missing_key */
	assert_int_equal(counters[2], 0);	/* groups_overflow */
	assert_true(n_groups > SL_EMIT_CAP);	/* emit needs several calls */

	ops->merge(conf, st[0], st[1]);
	ops->reset(conf, st[1]);
	memset(counters, 0, sizeof(counters));
	emit_all(conf, st[0]);
	assert_int_equal(counters[2], 0);

	/* after reset a state emits nothing and counts afresh */
	ops->reset(conf, st[0]);
	{
		uint64_t cursor = 0;
		memset(&out, 0, sizeof(out));
		out.n_ports = 1;
		assert_false(ops->emit(conf, st[0], &cursor, &ctx, &out));
		assert_int_equal(out.n[0], 0);
	}
	n_groups = 0;
	{
		struct model m = { .type = V_INT, .i = 42 };
		for (int i = 0; i < 3; i++) {
			burst[i] = make_event(&m, i == 1, 0);
			model_add(&m);
		}
		ctx.state = st[0];
		process_burst(conf, burst, 3);
		emit_all(conf, st[0]);
	}
	ops->destroy(conf, st[0]);
	ops->destroy(conf, st[1]);
	desc->fini(conf);
}

static void test_overflow(void **unused)
{
	const struct sl_state_ops *ops = desc->state;
	struct sl_error err;
	void *conf, *st[2];
	struct rte_mbuf *burst[10];

	/* 4 groups at most: keys 0..9 in one burst keep 0..3 and count 6 overflows */
	assert_int_equal(init_count("k", "10s", 4, &conf, &err), 0);
	st[0] = ops->create(conf);
	st[1] = ops->create(conf);
	memset(counters, 0, sizeof(counters));
	n_groups = 0;
	for (int i = 0; i < 10; i++) {
		struct model m = { .type = V_INT, .i = i };
		burst[i] = make_event(&m, 0, 0);
		if (i < 4)
			model_add(&m);
	}
	ctx.state = st[0];
	process_burst(conf, burst, 10);
	assert_int_equal(counters[0], 4);
	assert_int_equal(counters[2], 6);

	/* replica 1 saw keys 2..5: merging places 2 and 3, loses 4 and 5 (one event each),
	 * reported as overflow when the merged state is emitted */
	for (int i = 2; i < 6; i++) {
		struct model m = { .type = V_INT, .i = i };
		burst[i - 2] = make_event(&m, 0, 0);
		if (i < 4)
			model_add(&m);
	}
	ctx.state = st[1];
	process_burst(conf, burst, 4);
	ops->merge(conf, st[0], st[1]);
	memset(counters, 0, sizeof(counters));
	assert_int_equal(emit_all(conf, st[0]), 4);
	assert_int_equal(counters[2], 2);
	ops->destroy(conf, st[0]);
	ops->destroy(conf, st[1]);
	desc->fini(conf);
}

static void test_emit_resumes_after_empty_pool(void **unused)
{
	const struct sl_state_ops *ops = desc->state;
	struct rte_mbuf *hold[128], *burst[3];
	struct sl_error err;
	uint64_t cursor = 0;
	unsigned n = 0;
	void *conf, *st;

	assert_int_equal(init_count("k", "all", 16, &conf, &err), 0);
	st = ops->create(conf);
	n_groups = 0;
	for (int i = 0; i < 3; i++) {
		struct model m = { .type = V_STR };
		snprintf(m.s, sizeof(m.s), "%c", 'c' - i);
		burst[i] = make_event(&m, 0, 0);
		model_add(&m);
	}
	ctx.state = st;
	process_burst(conf, burst, 3);

	host_priv.pool = tiny_pool;
	while (n < 128 && (hold[n] = rte_pktmbuf_alloc(tiny_pool)))
		n++;
	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	assert_true(ops->emit(conf, st, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 0);
	assert_int_equal(cursor, 0);
	/* one mbuf free: one record, then a retry is needed */
	rte_pktmbuf_free(hold[--n]);
	assert_true(ops->emit(conf, st, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 1);
	assert_int_equal(cursor, 1);
	rte_pktmbuf_free(out.port[0][0]);
	while (n > 0)
		rte_pktmbuf_free(hold[--n]);
	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	assert_false(ops->emit(conf, st, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 2);
	{
		struct sl_val v = { 0 };
		assert_true(sl_rec_find(sl_event_record(&ctx, out.port[0][0]), "k", 1, &v));
		assert_int_equal(v.s.len, 1);
		assert_int_equal(v.s.p[0], 'b');
		assert_true(sl_rec_find(sl_event_record(&ctx, out.port[0][1]), "k", 1, &v));
		assert_int_equal(v.s.p[0], 'c');
	}
	rte_pktmbuf_free(out.port[0][0]);
	rte_pktmbuf_free(out.port[0][1]);
	host_priv.pool = pool;
	ops->destroy(conf, st);
	desc->fini(conf);
}

static void test_init_errors(void **unused)
{
	struct sl_error err;
	void *conf;

	assert_int_equal(init_count("k", "5x", 10, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "window");
	assert_non_null(strstr(err.msg, "5x"));
	assert_int_equal(init_count("k", "0s", 10, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "window");
	assert_int_equal(init_count("k", "all", 0, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "max_groups");
	assert_int_equal(init_count("k", "all", (1 << 24) + 1, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "max_groups");
	assert_int_equal(init_count("", "all", 10, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "key");
	assert_int_equal(init_count("count", "all", 10, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "key");
	assert_int_equal(init_count("k", "250ms", 1, &conf, &err), 0);
	desc->fini(conf);
}

static void test_pool_clean(void **unused)
{
	/* every event the tests made or the stage emitted went back */
	assert_int_equal(rte_mempool_avail_count(pool), 1024);
	assert_int_equal(rte_mempool_avail_count(tiny_pool), 128);
}

static void test_descriptor_checks(void **unused)
{
	char err[256] = "";

	/* the registry's own check accepts the descriptor as shipped */
	if (sl_stage_desc_check(desc, err, sizeof(err)) != 0)
		fail_msg("descriptor rejected: %s", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_checks),
		cmocka_unit_test(test_two_replicas_merge_emit),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_emit_resumes_after_empty_pool),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_pool_clean),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
