/*
 * Unit test of the sample stage: init checks `rate` and `key`; process() on real mbufs
 * keeps exactly the events the documented rule selects (XXH3-64 of the event id, or of
 * the key field's encoded value, with the seed, modulo rate == 0), computed here with the
 * library directly; equal key values share one verdict; events without the key are kept
 * and counted; the reads hook names the key.
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

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <sluice/stage.h>

#include "eal.h"
#include "event/event.h"
#include "plugin/registry.h"

static struct rte_mempool *pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static struct sl_ctx_host host_priv;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx ctx;
static struct sl_emit out;

static int setup(void **unused)
{
	pool = sl_test_pool(512, 512, &meta_off);
	desc = sl_test_builtin("sample");
	ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "sample");
	return 0;
}

static int init(const char *rate, const char *key, const char *seed, void **conf,
		struct sl_error *err)
{
	struct sl_arg v[3] = {
		{ .key = "rate", .type = SL_PARAM_INT, .str = rate, .i = atoll(rate) },
		{ .key = "key", .type = SL_PARAM_STR, .str = key },
		{ .key = "seed", .type = SL_PARAM_INT, .str = seed, .i = atoll(seed) },
	};
	struct sl_args args = { .file = "t.yaml", .name = "s", .n = 3, .v = v };

	memset(err, 0, sizeof(*err));
	return desc->init(&sl_host_table, &args, conf, err);
}

/* An event with id and, when status >= 0, the record {"status": status}. */
static struct rte_mbuf *make_event(uint64_t id, int status)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(pool);
	struct sl_meta *meta;
	struct sl_rec_writer w;
	uint32_t len = 0;

	assert_non_null(ev);
	meta = sl_event_meta(meta_off, ev);
	memset(meta, 0, sizeof(*meta));
	meta->event_id = id;
	meta->kind = SL_EVENT_LINE;
	if (status >= 0) {
		sl_rec_begin(&w, rte_pktmbuf_mtod(ev, char *), (uint32_t)rte_pktmbuf_tailroom(ev));
		sl_rec_put_int(&w, "status", status);
		len = sl_rec_end(&w);
		assert_true(len > 0);
		meta->kind = SL_EVENT_RECORD;
	}
	ev->data_len = (uint16_t)len;
	ev->pkt_len = len;
	return ev;
}

static void run(void *conf, struct rte_mbuf **evs, uint16_t n)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	desc->process(conf, &ctx, &in, &out);
}

static void release(void)
{
	for (int i = 0; i < out.n[0]; i++)
		rte_pktmbuf_free(out.port[0][i]);
	for (int i = 0; i < out.n_drop; i++)
		rte_pktmbuf_free(out.drop[i]);
}

static void test_init_errors(void **unused)
{
	struct sl_error err;
	void *conf = NULL;

	assert_int_equal(init("0", NULL, "0", &conf, &err), -EINVAL);
	assert_string_equal(err.key, "rate");
	assert_int_equal(init("-3", NULL, "0", &conf, &err), -EINVAL);
	assert_int_equal(init("2", "", "0", &conf, &err), -EINVAL);
	assert_string_equal(err.key, "key");
}

/* By event id: the kept ids are those the rule picks; about one in ten of 4,096. */
static void test_by_event_id(void **unused)
{
	struct rte_mbuf *evs[SL_BURST_MAX];
	struct sl_error err;
	void *conf = NULL;
	uint64_t kept = 0;

	assert_int_equal(init("10", NULL, "7", &conf, &err), 0);
	assert_non_null(desc->reads(conf));
	assert_null(desc->reads(conf)[0]);
	memset(counters, 0, sizeof(counters));
	for (uint64_t base = 0; base < 4096; base += SL_BURST_MAX) {
		uint16_t k = 0;

		for (uint64_t id = base; id < base + SL_BURST_MAX; id++)
			evs[k++] = make_event(id << 8 | 3, -1);
		run(conf, evs, k);
		for (uint16_t i = 0, e = 0; i < k; i++) {
			uint64_t id = (base + i) << 8 | 3;
			bool want = XXH3_64bits_withSeed(&id, sizeof(id), 7) % 10 == 0;

			if (want) {
				assert_true(e < out.n[0]);
				assert_ptr_equal(out.port[0][e], evs[i]);
				e++;
				kept++;
			}
		}
		assert_int_equal(out.n[0] + out.n_drop, k);
		for (int i = 0; i < out.n_drop; i++)
			assert_int_equal(out.drop_reason[i], SL_DROP_FILTERED);
		release();
	}
	assert_int_equal(counters[0], kept);
	assert_int_equal(counters[1], 4096 - kept);
	/* 4096 ids at 1/10: 409.6 expected, sd 19.2; a broken rule lands far outside */
	assert_true(kept > 320 && kept < 500);
	desc->fini(conf);
}

/* By key: equal values share a verdict, which is the rule's on the encoded value; events
 * without the field are kept and counted. */
static void test_by_key(void **unused)
{
	struct rte_mbuf *evs[SL_BURST_MAX];
	struct sl_error err;
	void *conf = NULL;
	int verdict[600];
	uint64_t kept_statuses = 0;

	assert_int_equal(init("4", "status", "0", &conf, &err), 0);
	assert_string_equal(desc->reads(conf)[0], "status");
	assert_null(desc->reads(conf)[1]);
	memset(verdict, -1, sizeof(verdict));
	memset(counters, 0, sizeof(counters));
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < SL_BURST_MAX; i++)
			evs[i] = make_event((uint64_t)(round * SL_BURST_MAX + i),
					    i == 5 ? -1 : 100 + (i * 37 + round * 11) % 500);
		run(conf, evs, SL_BURST_MAX);
		for (int i = 0; i < out.n[0]; i++) {
			struct sl_val v;

			if (!sl_rec_find(sl_event_record(&ctx, out.port[0][i]), "status", 6, &v))
				continue; /* the event without a record */
			assert_true(verdict[v.i] != 0);
			verdict[v.i] = 1;
		}
		for (int i = 0; i < out.n_drop; i++) {
			struct sl_val v;

			assert_true(
				sl_rec_find(sl_event_record(&ctx, out.drop[i]), "status", 6, &v));
			assert_true(verdict[v.i] != 1);
			verdict[v.i] = 0;
		}
		release();
	}
	for (int s = 100; s < 600; s++) {
		uint8_t enc[3];
		size_t n;

		if (verdict[s] < 0)
			continue;
		/* the shortest msgpack encoding of s, as the record writer makes it */
		if (s < 128) {
			enc[0] = (uint8_t)s;
			n = 1;
		} else if (s < 256) {
			enc[0] = 0xcc;
			enc[1] = (uint8_t)s;
			n = 2;
		} else {
			enc[0] = 0xcd;
			enc[1] = (uint8_t)(s >> 8);
			enc[2] = (uint8_t)s;
			n = 3;
		}
		assert_int_equal(verdict[s], XXH3_64bits_withSeed(enc, n, 0) % 4 == 0);
		kept_statuses += (uint64_t)verdict[s];
	}
	assert_true(kept_statuses > 0);
	assert_int_equal(counters[2], 20); /* one event per round without the field */
	desc->fini(conf);
}

static void test_rate_one_keeps_all(void **unused)
{
	struct rte_mbuf *evs[8];
	struct sl_error err;
	void *conf = NULL;

	assert_int_equal(init("1", NULL, "0", &conf, &err), 0);
	for (int i = 0; i < 8; i++)
		evs[i] = make_event((uint64_t)i * 977, 200);
	run(conf, evs, 8);
	assert_int_equal(out.n[0], 8);
	assert_int_equal(out.n_drop, 0);
	release();
	desc->fini(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_by_event_id),
		cmocka_unit_test(test_by_key),
		cmocka_unit_test(test_rate_one_keeps_all),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
