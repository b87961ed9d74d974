/*
 * Edge tests: fan-out shares events by refcount, `block` holds what does not fit and
 * delivers it on flush in order, `drop_newest` frees and counts it, a port with no
 * consumer counts unrouted, and every event is accounted for (conservation):
 * sent = enqueued + dropped + pending, per consumer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "eal.h"
#include "edge/edge.h"
#include "edge/tap.h"

static struct rte_mempool *pool;
static int meta_off;

static void alloc_events(struct rte_mbuf **ev, unsigned n)
{
	sl_test_numbered(pool, meta_off, ev, n, 0);
}

static unsigned drain(struct rte_ring *r, uint64_t *next_id)
{
	return sl_test_drain_numbered(r, meta_off, next_id);
}

static void test_fanout_refcount(void **st)
{
	struct rte_ring *a = rte_ring_create("t_fan_a", 64, SOCKET_ID_ANY, 0);
	struct rte_ring *b = rte_ring_create("t_fan_b", 64, SOCKET_ID_ANY, 0);
	struct sl_edge_port port = { .n_dest = 2, .dest = { { a, 1, false }, { b, 2, false } } };
	struct sl_edge_out o;
	struct rte_mbuf *ev[8];
	unsigned avail = rte_mempool_avail_count(pool);
	void *x = NULL;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 8);
	sl_edge_send(&o, 0, ev, 8);
	assert_int_equal(o.n_out, 8);
	assert_int_equal(o.n_pending, 0);
	assert_int_equal(rte_ring_count(a), 8);
	assert_int_equal(rte_ring_count(b), 8);
	/* Shared, not copied: the same mbuf in both rings with refcnt 2. */
	assert_int_equal(rte_ring_dequeue(a, &x), 0);
	assert_ptr_equal(x, ev[0]);
	assert_int_equal(rte_mbuf_refcnt_read(ev[0]), 2);
	rte_pktmbuf_free(x);
	assert_int_equal(rte_mbuf_refcnt_read(ev[0]), 1);
	uint64_t id = 1;
	drain(a, &id);
	id = 0;
	drain(b, &id);
	/* Every mbuf is back in the pool. */
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(a);
	rte_ring_free(b);
}

static void test_block_holds_and_flushes(void **st)
{
	/* A ring of 16 slots holds 15 events. */
	struct rte_ring *r = rte_ring_create("t_block", 16, SOCKET_ID_ANY, 0);
	struct sl_edge_port port = { .n_dest = 1, .dest = { { r, 1, false } } };
	struct sl_edge_out o;
	struct rte_mbuf *ev[40];
	uint64_t next = 0;
	unsigned got;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 40);
	sl_edge_send(&o, 0, ev, 40);
	assert_int_equal(o.n_enqueued[0], 15);
	assert_int_equal(o.n_pending, 25);
	assert_int_equal(sl_edge_flush(&o), 25); /* still full */
	got = drain(r, &next);
	assert_int_equal(got, 15);
	assert_int_equal(sl_edge_flush(&o), 10);
	got += drain(r, &next);
	assert_int_equal(sl_edge_flush(&o), 0);
	got += drain(r, &next);
	assert_int_equal(got, 40);
	assert_int_equal(o.n_enqueued[0] + o.n_full_drop[0] + o.n_pending, 40);
	sl_edge_out_fini(&o);
	rte_ring_free(r);
}

static void test_drop_newest_counts(void **st)
{
	struct rte_ring *r = rte_ring_create("t_drop", 16, SOCKET_ID_ANY, 0);
	struct rte_ring *ok = rte_ring_create("t_drop_ok", 64, SOCKET_ID_ANY, 0);
	struct sl_edge_port port = { .n_dest = 2, .dest = { { r, 1, true }, { ok, 2, false } } };
	struct sl_edge_out o;
	struct rte_mbuf *ev[40];
	unsigned avail = rte_mempool_avail_count(pool);
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 40);
	sl_edge_send(&o, 0, ev, 40);
	assert_int_equal(o.n_out, 40);
	assert_int_equal(o.n_enqueued[0], 15);
	assert_int_equal(o.n_full_drop[0], 25);
	assert_int_equal(o.n_enqueued[1], 40);
	assert_int_equal(o.n_pending, 0);
	assert_int_equal(drain(r, &next), 15);
	next = 0;
	assert_int_equal(drain(ok, &next), 40);
	/* Dropped copies only released their reference: nothing leaked, nothing double-freed. */
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(r);
	rte_ring_free(ok);
}

static void test_unrouted(void **st)
{
	struct sl_edge_port ports[2] = { { .n_dest = 0 }, { .n_dest = 0 } };
	struct sl_edge_out o;
	struct rte_mbuf *ev[5];
	unsigned avail = rte_mempool_avail_count(pool);

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, ports, 2, 0, 1), 0);
	alloc_events(ev, 5);
	sl_edge_send(&o, 1, ev, 5);
	assert_int_equal(o.n_unrouted, 5);
	assert_int_equal(o.n_out, 0);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
}

static void test_discard_frees_pending(void **st)
{
	struct rte_ring *r = rte_ring_create("t_discard", 16, SOCKET_ID_ANY, 0);
	struct sl_edge_port port = { .n_dest = 1, .dest = { { r, 1, false } } };
	struct sl_edge_out o;
	struct rte_mbuf *ev[30];
	unsigned avail = rte_mempool_avail_count(pool);
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 30);
	sl_edge_send(&o, 0, ev, 30);
	assert_int_equal(sl_edge_discard(&o), 15);
	assert_int_equal(o.n_pending, 0);
	drain(r, &next);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(r);
}

/* Regression: a stage emitting on two ports, the first of which fills its ring, must still
 * deliver the second port's events (this tripped a debug assertion once). */
static void test_second_port_after_first_holds(void **st)
{
	struct rte_ring *a = rte_ring_create("t_two_a", 16, SOCKET_ID_ANY, 0);
	struct rte_ring *b = rte_ring_create("t_two_b", 64, SOCKET_ID_ANY, 0);
	struct sl_edge_port ports[2] = { { .n_dest = 1, .dest = { { a, 1, false } } },
					 { .n_dest = 1, .dest = { { b, 2, false } } } };
	struct sl_edge_out o;
	struct rte_mbuf *ev[50];
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, ports, 2, 0, 1), 0);
	alloc_events(ev, 50);
	sl_edge_send(&o, 0, ev, 30);
	assert_int_equal(o.n_pending, 15);
	sl_edge_send(&o, 1, ev + 30, 20);
	assert_int_equal(o.n_enqueued[1], 20);
	assert_int_equal(drain(a, &next), 15);
	assert_int_equal(sl_edge_flush(&o), 0);
	assert_int_equal(drain(a, &next), 15);
	assert_int_equal(drain(b, &next), 20);
	sl_edge_out_fini(&o);
	rte_ring_free(a);
	rte_ring_free(b);
}

/* Lanes: a producer with as many replicas as the consumer keeps to its own ring; any other
 * producer deals bursts round-robin over the consumer's rings. */
static void test_lanes(void **st)
{
	struct rte_ring *r0 = rte_ring_create("t_lane0", 64, SOCKET_ID_ANY, 0);
	struct rte_ring *r1 = rte_ring_create("t_lane1", 64, SOCKET_ID_ANY, 0);
	struct rte_ring *rings[2] = { r0, r1 };
	struct sl_edge_port port = {
		.n_dest = 1, .dest = { { .ring = r0, .consumer = 1, .rings = rings, .n_rings = 2 } }
	};
	struct sl_edge_out lane1, single;
	struct rte_mbuf *ev[12];
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&lane1, &port, 1, 1, 2), 0);
	alloc_events(ev, 12);
	sl_edge_send(&lane1, 0, ev, 4);
	sl_edge_send(&lane1, 0, ev + 4, 4);
	assert_int_equal(rte_ring_count(r0), 0);
	assert_int_equal(rte_ring_count(r1), 8);
	assert_int_equal(drain(r1, &next), 8);
	/* One producer replica, two consumer replicas: bursts alternate. */
	assert_int_equal(sl_edge_out_init(&single, &port, 1, 0, 1), 0);
	sl_edge_send(&single, 0, ev + 8, 2);
	sl_edge_send(&single, 0, ev + 10, 2);
	assert_int_equal(rte_ring_count(r0), 2);
	assert_int_equal(rte_ring_count(r1), 2);
	assert_int_equal(drain(r0, &next), 2);
	assert_int_equal(drain(r1, &next), 2);
	sl_edge_out_fini(&lane1);
	sl_edge_out_fini(&single);
	rte_ring_free(r0);
	rte_ring_free(r1);
}

/*
 * A tap re-armed for another output: a producer that passed the armed check under the
 * old arming and fills its slot only after the re-arm (simulated by taking a free slot
 * by hand and queueing it late) must not show that event to the new tapper.
 */
static void test_tap_rearm_drops_stale_slot(void **st)
{
	struct sl_tap *t = sl_tap_create("t_tap", meta_off);
	struct sl_tap_item *late = NULL, *it;
	struct rte_mbuf *ev[2];

	(void)st;
	assert_non_null(t);
	alloc_events(ev, 2);
	sl_tap_arm(t, 1, 0, rte_get_tsc_hz());
	sl_tap_offer(t, 1, ev, 2);
	assert_int_equal(rte_ring_dequeue(t->free, (void **)&late), 0);
	late->gen = t->gen;
	late->port = 1;
	sl_tap_disarm(t);
	sl_tap_arm(t, 0, 0, rte_get_tsc_hz());
	rte_ring_enqueue(t->full, late);
	assert_null(sl_tap_take(t));
	sl_tap_offer(t, 1, ev, 2);
	assert_null(sl_tap_take(t));
	sl_tap_offer(t, 0, ev, 2);
	it = sl_tap_take(t);
	assert_non_null(it);
	assert_int_equal(it->port, 0);
	sl_tap_release(t, it);
	assert_int_equal(rte_ring_count(t->free), SL_TAP_SLOTS);
	rte_pktmbuf_free_bulk(ev, 2);
	sl_tap_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fanout_refcount),
		cmocka_unit_test(test_block_holds_and_flushes),
		cmocka_unit_test(test_drop_newest_counts),
		cmocka_unit_test(test_unrouted),
		cmocka_unit_test(test_discard_frees_pending),
		cmocka_unit_test(test_second_port_after_first_holds),
		cmocka_unit_test(test_lanes),
		cmocka_unit_test(test_tap_rearm_drops_stale_slot),
	};

	/* avail_count includes per-lcore caches, so it is exact for leak checks. */
	sl_test_eal_init();
	pool = sl_test_pool(1023, 256, &meta_off);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
