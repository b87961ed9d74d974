/*
 * Unit test of flow_count through its state ops, as the runtime drives it: two replicas
 * fold packets of three flows (one IPv6) and an ARP frame into their own tables, the
 * runtime merges them, and emit writes one record per flow with the packet and byte sums
 * worked out by hand here; the ARP frame is counted as non_ip; reset empties the table;
 * max_flows bounds it (overflow counted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include <sluice/record.h>
#include <sluice/stage.h>

#include "../pkt_parse/pkt.h"
#include "eal.h"
#include "event/event.h"

static struct rte_mempool *pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static struct sl_emit out;
static struct sl_ctx_host host_priv;

/* Flow f: 0 UDP 10.0.0.1:1000 -> 10.0.0.2:53, 1 TCP 10.0.0.1:1001 -> 10.0.0.2:80,
 * 2 UDP fd00::1:1002 -> fd00::2:53, 3 ARP; pad extra bytes after the headers. */
static struct rte_mbuf *packet(int f, uint32_t pad)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	struct sl_pkt_info pi;
	uint32_t n = 14, l4 = (f == 1 ? 20 : 8) + pad;

	memset(b, 0, 200);
	b[12] = f == 2 ? 0x86 : 0x08;
	b[13] = f == 2 ? 0xdd : f == 3 ? 0x06 : 0x00;
	if (f == 3) {
		n = 60;
	} else if (f == 2) {
		b[14] = 0x60;
		b[18] = (uint8_t)(l4 >> 8);
		b[19] = (uint8_t)l4;
		b[20] = 17;
		b[22] = 0xfd;
		b[37] = 1;
		b[38] = 0xfd;
		b[53] = 2;
		n = 54;
	} else {
		b[14] = 0x45;
		b[16] = (uint8_t)((20 + l4) >> 8);
		b[17] = (uint8_t)(20 + l4);
		b[23] = f == 1 ? 6 : 17;
		memcpy(b + 26, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
		n = 34;
	}
	if (f != 3) {
		uint16_t sp = (uint16_t)(1000 + f), dp = f == 1 ? 80 : 53;

		b[n] = (uint8_t)(sp >> 8);
		b[n + 1] = (uint8_t)sp;
		b[n + 2] = (uint8_t)(dp >> 8);
		b[n + 3] = (uint8_t)dp;
		if (f == 1) {
			b[n + 12] = 0x50;
		} else {
			b[n + 4] = (uint8_t)(l4 >> 8);
			b[n + 5] = (uint8_t)l4;
		}
		n += l4;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	memset(sl_event_meta(meta_off, m), 0, sizeof(struct sl_meta));
	sl_event_meta(meta_off, m)->kind = SL_EVENT_PACKET;
	assert_int_equal(sl_pkt_parse(b, n, &pi), SL_PKT_OK);
	sl_pkt_store(m, &pi);
	return m;
}

static void *init(const char *max_flows)
{
	struct sl_arg args[2] = {
		{ .key = "window", .type = SL_PARAM_STR, .str = "all" },
		{ .key = "max_flows",
		  .type = SL_PARAM_INT,
		  .str = max_flows,
		  .i = atoi(max_flows) },
	};
	struct sl_args a = { .file = "t.yaml", .name = "flows", .n = 2, .v = args };
	struct sl_error err = { 0 };
	void *conf = NULL;

	assert_int_equal(desc->init(NULL, &a, &conf, &err), 0);
	return conf;
}

static void fold(void *conf, void *state, uint64_t *counters, const int *flows,
		 const uint32_t *pads, uint16_t n)
{
	struct sl_ctx ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "flows");
	struct rte_mbuf *evs[16];
	struct sl_burst in = { evs, n };

	for (uint16_t i = 0; i < n; i++)
		evs[i] = packet(flows[i], pads[i]);
	ctx.state = state;
	memset(out.n, 0, sizeof(out.n));
	out.n_drop = 0;
	out.n_ports = 1;
	desc->process(conf, &ctx, &in, &out);
	assert_int_equal(out.n[0], 0);
	assert_int_equal(out.n_drop, n);
	rte_pktmbuf_free_bulk(out.drop, out.n_drop);
}

static int64_t field_int(struct sl_rec r, const char *k)
{
	struct sl_val v;

	assert_true(sl_rec_find(r, k, strlen(k), &v));
	assert_int_equal(v.type, SL_VAL_INT);
	return v.i;
}

static void field_str(struct sl_rec r, const char *k, const char *want)
{
	struct sl_val v;

	assert_true(sl_rec_find(r, k, strlen(k), &v));
	assert_int_equal(v.type, SL_VAL_STR);
	assert_int_equal(v.s.len, strlen(want));
	assert_memory_equal(v.s.p, want, v.s.len);
}

static void test_merge_and_emit(void **unused)
{
	static const int f1[] = { 0, 0, 1, 3, 2 };
	static const uint32_t p1[] = { 10, 0, 5, 0, 1 };
	static const int f2[] = { 1, 0, 2, 2 };
	static const uint32_t p2[] = { 0, 4, 2, 3 };
	uint64_t c1[SL_COUNTER_MAX] = { 0 }, c2[SL_COUNTER_MAX] = { 0 };
	void *conf = init("16");
	void *s1 = desc->state->create(conf), *s2 = desc->state->create(conf);
	struct sl_ctx ctx = sl_test_ctx(&host_priv, pool, meta_off, c1, "flows");
	uint64_t cursor = 0;
	/* Bytes by hand: UDP/IPv4 frames are 14 + 20 + 8 + pad, TCP/IPv4 14 + 20 + 20 + pad,
	 * UDP/IPv6 14 + 40 + 8 + pad. Keys compare by source address bytes first, so the
	 * 10.0.0.1 flows come before fd00::1. */
	struct {
		const char *src, *dst;
		int sp, dp, proto;
		int64_t packets, bytes;
	} want[] = {
		{ "10.0.0.1", "10.0.0.2", 1000, 53, 17, 3, (42 + 10) + 42 + (42 + 4) },
		{ "10.0.0.1", "10.0.0.2", 1001, 80, 6, 2, (54 + 5) + 54 },
		{ "fd00::1", "fd00::2", 1002, 53, 17, 3, (62 + 1) + (62 + 2) + (62 + 3) },
	};

	fold(conf, s1, c1, f1, p1, 5);
	fold(conf, s2, c2, f2, p2, 4);
	assert_int_equal(c1[0] + c2[0], 8); /* counted */
	assert_int_equal(c1[1] + c2[1], 1); /* non_ip: the ARP frame */
	desc->state->merge(conf, s1, s2);
	desc->state->reset(conf, s2);
	ctx.state = s1;
	memset(out.n, 0, sizeof(out.n));
	out.n_drop = 0;
	out.n_ports = 1;
	assert_false(desc->state->emit(conf, s1, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 3);
	for (int i = 0; i < 3; i++) {
		struct sl_rec r = sl_event_record(&ctx, out.port[0][i]);

		field_str(r, "src_ip", want[i].src);
		field_str(r, "dst_ip", want[i].dst);
		assert_int_equal(field_int(r, "src_port"), want[i].sp);
		assert_int_equal(field_int(r, "dst_port"), want[i].dp);
		assert_int_equal(field_int(r, "proto"), want[i].proto);
		assert_int_equal(field_int(r, "packets"), want[i].packets);
		assert_int_equal(field_int(r, "bytes"), want[i].bytes);
	}
	rte_pktmbuf_free_bulk(out.port[0], out.n[0]);
	/* reset empties it */
	desc->state->reset(conf, s1);
	cursor = 0;
	memset(out.n, 0, sizeof(out.n));
	assert_false(desc->state->emit(conf, s1, &cursor, &ctx, &out));
	assert_int_equal(out.n[0], 0);
	desc->state->destroy(conf, s1);
	desc->state->destroy(conf, s2);
	desc->fini(conf);
	assert_int_equal(rte_mempool_avail_count(pool), 256);
}

static void test_max_flows(void **unused)
{
	static const int f[] = { 0, 1, 2, 0 };
	static const uint32_t p[] = { 0, 0, 0, 0 };
	uint64_t c[SL_COUNTER_MAX] = { 0 };
	void *conf = init("2");
	void *s = desc->state->create(conf);

	fold(conf, s, c, f, p, 4);
	assert_int_equal(c[0], 3); /* counted: flows 0, 1 and 0 again */
	assert_int_equal(c[2], 1); /* flows_overflow: the third flow */
	desc->state->destroy(conf, s);
	desc->fini(conf);
}

static int setup(void **unused)
{
	sl_test_eal_init();
	pool = sl_test_pool(256, 2048, &meta_off);
	desc = sl_test_builtin("flow_count");
	return pool ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_emit),
		cmocka_unit_test(test_max_flows),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
