/*
 * Unit test of udp_payload on real mbufs from a test pool: a UDP/IPv4 frame with Ethernet
 * padding becomes a line event of exactly its payload with the trailing CR LF removed; a
 * VLAN-tagged IPv6 one too; TCP, fragments and unparsed packets are dropped as filtered;
 * a shared event is copied and the original left as it was; a payload too long to leave
 * room for a record in a small event moves to a fresh big one (the pool has big buffers,
 * as the runtime's does); counters add up.
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

#include <sluice/stage.h>

#include "../pkt_parse/pkt.h"
#include "eal.h"
#include "event/event.h"

static struct rte_mempool *pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static struct sl_emit out;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx_host host_priv;

/* Ethernet [+ VLAN] + IPv4 or IPv6 + UDP/TCP with payload, padded to 60 bytes. */
static uint32_t build(uint8_t *b, bool v6, bool vlan, uint8_t proto, const char *payload,
		      uint16_t frag)
{
	uint32_t n = 12, pl = (uint32_t)strlen(payload), l4 = (proto == 6 ? 20 : 8) + pl;

	memset(b, 0, 128);
	if (vlan) {
		b[n++] = 0x81;
		b[n++] = 0;
		b[n++] = 0;
		b[n++] = 42;
	}
	b[n++] = v6 ? 0x86 : 0x08;
	b[n++] = v6 ? 0xdd : 0x00;
	if (v6) {
		b[n] = 0x60;
		b[n + 4] = (uint8_t)(l4 >> 8);
		b[n + 5] = (uint8_t)l4;
		b[n + 6] = proto;
		n += 40;
	} else {
		b[n] = 0x45;
		b[n + 2] = (uint8_t)((20 + l4) >> 8);
		b[n + 3] = (uint8_t)(20 + l4);
		b[n + 6] = (uint8_t)(frag >> 8);
		b[n + 7] = (uint8_t)frag;
		b[n + 9] = proto;
		n += 20;
	}
	b[n + 2] = 0x02; /* dst port 514 */
	b[n + 3] = 0x02;
	if (proto == 6) {
		b[n + 12] = 0x50;
		n += 20;
	} else {
		b[n + 4] = (uint8_t)(l4 >> 8);
		b[n + 5] = (uint8_t)l4;
		n += 8;
	}
	memcpy(b + n, payload, pl);
	n += pl;
	return n < 60 ? 60 : n;
}

static struct rte_mbuf *packet(const uint8_t *b, uint32_t n, bool parse)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct sl_pkt_info pi;

	assert_non_null(m);
	memcpy(rte_pktmbuf_mtod(m, void *), b, n);
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	memset(sl_event_meta(meta_off, m), 0, sizeof(struct sl_meta));
	sl_event_meta(meta_off, m)->kind = SL_EVENT_PACKET;
	sl_event_meta(meta_off, m)->event_id = 77;
	if (parse) {
		assert_int_equal(sl_pkt_parse(b, n, &pi), SL_PKT_OK);
		sl_pkt_store(m, &pi);
	}
	return m;
}

static void run(struct rte_mbuf **evs, uint16_t n)
{
	struct sl_ctx ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "lines");
	struct sl_burst in = { evs, n };

	memset(out.n, 0, sizeof(out.n));
	out.n_drop = 0;
	out.n_ports = 1;
	desc->process(NULL, &ctx, &in, &out);
}

static void expect_line(struct rte_mbuf *m, const char *want)
{
	const struct sl_meta *meta = sl_event_meta(meta_off, m);

	assert_int_equal(meta->kind, SL_EVENT_LINE);
	assert_int_equal(meta->raw_len, strlen(want));
	assert_int_equal(m->data_len, strlen(want));
	assert_int_equal(m->pkt_len, strlen(want));
	assert_memory_equal(rte_pktmbuf_mtod(m, void *), want, strlen(want));
	assert_int_equal(meta->event_id, 77);
	assert_int_equal(m->packet_type, 0);
}

static void test_lines(void **unused)
{
	uint8_t b[4][128];
	uint32_t n[4];
	struct rte_mbuf *m[4];

	n[0] = build(b[0], false, false, 17, "<13>hi\r\n", 0); /* padded to 60 */
	n[1] = build(b[1], true, true, 17, "<14>over v6\n", 0);
	n[2] = build(b[2], false, false, 6, "tcp", 0);
	n[3] = build(b[3], false, false, 17, "frag", 0x2000);
	for (int i = 0; i < 4; i++)
		m[i] = packet(b[i], n[i], true);
	memset(counters, 0, sizeof(counters));
	run(m, 4);
	assert_int_equal(out.n[0], 2);
	expect_line(out.port[0][0], "<13>hi");
	expect_line(out.port[0][1], "<14>over v6");
	assert_int_equal(out.n_drop, 2);
	assert_int_equal(out.drop_reason[0], SL_DROP_FILTERED);
	assert_int_equal(out.drop_reason[1], SL_DROP_FILTERED);
	assert_int_equal(counters[0], 2); /* lines */
	assert_int_equal(counters[1], 2); /* not_udp */
	rte_pktmbuf_free_bulk(out.port[0], out.n[0]);
	rte_pktmbuf_free_bulk(out.drop, out.n_drop);

	/* Not parsed: never read as UDP. */
	m[0] = packet(b[0], n[0], false);
	run(m, 1);
	assert_int_equal(out.n_drop, 1);
	rte_pktmbuf_free_bulk(out.drop, out.n_drop);
	assert_int_equal(rte_mempool_avail_count(pool), 256);
}

static void test_shared_and_long(void **unused)
{
	static uint8_t b[2048];
	static char payload[1600];
	struct rte_mbuf *m;
	uint32_t n;

	n = build(b, false, false, 17, "<13>shared", 0);
	m = packet(b, n, true);
	rte_mbuf_refcnt_update(m, 1);
	run(&m, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_not_equal(out.port[0][0], m);
	expect_line(out.port[0][0], "<13>shared");
	/* The other holder still has the whole frame. */
	assert_int_equal(m->data_len, n);
	assert_int_equal(sl_event_meta(meta_off, m)->kind, SL_EVENT_PACKET);
	rte_pktmbuf_free(out.port[0][0]);
	rte_pktmbuf_free(m);

	/* 1600 bytes in a 2 KiB event leave no room for a record: it moves. */
	memset(payload, 'x', sizeof(payload) - 1);
	n = build(b, false, false, 17, payload, 0);
	m = packet(b, n, true);
	run(&m, 1);
	assert_int_equal(out.n[0], 1);
	expect_line(out.port[0][0], payload);
	assert_true(rte_pktmbuf_tailroom(out.port[0][0]) >= sizeof(payload));
	rte_pktmbuf_free(out.port[0][0]);
	assert_int_equal(rte_mempool_avail_count(pool), 256);
}

static int setup(void **unused)
{
	/* Small events with big buffers, as the runtime makes them. */
	struct sl_event_pool_conf pc = { .name = "udp_payload_test",
					 .n_events = 256,
					 .data_room = SL_EVENT_SMALL_ROOM,
					 .big_room = SL_EVENT_DATA_ROOM,
					 .cache = 0,
					 .socket = -1 };

	sl_test_eal_init();
	if (sl_event_pool_create(&pc, &pool, &meta_off) < 0)
		return -1;
	desc = sl_test_builtin("udp_payload");
	return pool ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_shared_and_long),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
