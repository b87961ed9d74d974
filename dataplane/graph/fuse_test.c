/*
 * Fusion tests: the rule accepts the one edge shape it is meant for (a single static
 * replica, one input, no isolation, on the producer's lcore, windowed or not, alone on its
 * port or not) and refuses each departure from it with a reason; the overflow path
 * (sl_edge_send_dest, what a fused consumer could not take) keeps the edge's policy exactly
 * as a ring send does (block: held in order and delivered on flush; drop_newest: freed and
 * counted) for each consumer of a port on its own, and every event is accounted for:
 * sent = enqueued + dropped + pending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "eal.h"
#include "edge/edge.h"
#include "graph/fuse.h"

static struct rte_mempool *pool;
static int meta_off;

static struct sl_fuse_edge fusable(void)
{
	return (struct sl_fuse_edge){
		.consumer_role = SL_NODE_STAGE,
		.consumer_replicas = 1,
		.consumer_inputs = 1,
		.consumer_rings = 1,
		.consumer_lcore = 3,
		.producer_lcore = 3,
	};
}

static void set_disabled(struct sl_fuse_edge *e)
{
	e->disabled = true;
}
static void set_replicas(struct sl_fuse_edge *e)
{
	e->consumer_replicas = 2;
}
static void set_rings(struct sl_fuse_edge *e)
{
	e->consumer_rings = 2;
}
static void set_scaled(struct sl_fuse_edge *e)
{
	e->consumer_scaled = true;
}
static void set_producer_scaled(struct sl_fuse_edge *e)
{
	e->producer_scaled = true;
}
static void set_inputs(struct sl_fuse_edge *e)
{
	e->consumer_inputs = 2;
}
static void set_isolated(struct sl_fuse_edge *e)
{
	e->consumer_isolated = true;
}
static void set_lcore(struct sl_fuse_edge *e)
{
	e->consumer_lcore = 4;
}
static void set_source(struct sl_fuse_edge *e)
{
	e->consumer_role = SL_NODE_SOURCE;
}

static void test_rule(void **st)
{
	static const struct {
		void (*set)(struct sl_fuse_edge *e);
		const char *why;
	} no[] = {
		{ set_disabled, "fuse: false" },
		{ set_replicas, "consumer has replicas" },
		{ set_rings, "consumer has replicas" },
		{ set_scaled, "autoscaled" },
		{ set_producer_scaled, "autoscaled" },
		{ set_inputs, "consumer has several inputs" },
		{ set_isolated, "consumer is isolated" },
		{ set_lcore, "other lcore" },
		{ set_source, "consumer is a source" },
	};
	struct sl_fuse_edge e = fusable();
	const char *why = "unset";

	(void)st;
	assert_true(sl_fuse_allowed(&e, &why));
	assert_null(why);
	e.consumer_role = SL_NODE_SINK;
	assert_true(sl_fuse_allowed(&e, NULL));
	/* Each departure alone refuses, with its own reason. */
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		e = fusable();
		no[i].set(&e);
		why = NULL;
		assert_false(sl_fuse_allowed(&e, &why));
		assert_string_equal(why, no[i].why);
	}
}

static void alloc_events(struct rte_mbuf **ev, unsigned n, uint64_t first)
{
	sl_test_numbered(pool, meta_off, ev, n, first);
}

static unsigned drain(struct rte_ring *r, uint64_t *next_id)
{
	return sl_test_drain_numbered(r, meta_off, next_id);
}

/* block: what the ring cannot take is held (in order) and delivered by sl_edge_flush. */
static void test_overflow_block(void **st)
{
	struct rte_ring *a = rte_ring_create("t_fuse_blk", 8, SOCKET_ID_ANY, 0); /* holds 7 */
	struct sl_edge_port port = { .n_dest = 1, .dest = { { .ring = a, .consumer = 1 } } };
	unsigned avail = rte_mempool_avail_count(pool);
	struct sl_edge_out o;
	struct rte_mbuf *ev[10];
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 10, 0);
	sl_edge_send_dest(&o, 0, 0, ev, 10);
	assert_int_equal(o.n_enqueued[0], 7);
	assert_int_equal(o.n_pending, 3);
	assert_int_equal(o.n_full_drop[0], 0);
	assert_int_equal(sl_edge_flush(&o), 3); /* still full */
	assert_int_equal(drain(a, &next), 7);
	assert_int_equal(sl_edge_flush(&o), 0);
	assert_int_equal(o.n_enqueued[0], 10);
	assert_int_equal(drain(a, &next), 3);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(a);
}

/* drop_newest: the tail that does not fit is freed and counted on the edge. */
static void test_overflow_drop_newest(void **st)
{
	struct rte_ring *a = rte_ring_create("t_fuse_drop", 8, SOCKET_ID_ANY, 0);
	struct sl_edge_port port = {
		.n_dest = 1, .dest = { { .ring = a, .consumer = 1, .drop_newest = true } }
	};
	unsigned avail = rte_mempool_avail_count(pool);
	struct sl_edge_out o;
	struct rte_mbuf *ev[12];
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 12, 0);
	sl_edge_send_dest(&o, 0, 0, ev, 12);
	assert_int_equal(o.n_enqueued[0], 7);
	assert_int_equal(o.n_full_drop[0], 5);
	assert_int_equal(o.n_pending, 0);
	/* The oldest were kept. */
	assert_int_equal(drain(a, &next), 7);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(a);
}

/* A lane-fused consumer (sink replicas per lane): lane 1's overflow goes to ring 1, and
 * what ring 1 cannot take is held for ring 1, never put on lane 0's ring. */
static void test_overflow_lane_ring(void **st)
{
	struct rte_ring *r0 = rte_ring_create("t_fuse_l0", 8, SOCKET_ID_ANY, 0);
	struct rte_ring *r1 = rte_ring_create("t_fuse_l1", 8, SOCKET_ID_ANY, 0);
	struct rte_ring *rings[2] = { r0, r1 };
	struct sl_edge_port port = {
		.n_dest = 1, .dest = { { .ring = r0, .consumer = 1, .rings = rings, .n_rings = 2 } }
	};
	unsigned avail = rte_mempool_avail_count(pool);
	struct sl_edge_out o;
	struct rte_mbuf *ev[9];
	uint64_t next = 0;

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 1, 2), 0);
	alloc_events(ev, 9, 0);
	sl_edge_send_dest(&o, 0, 0, ev, 9);
	assert_int_equal(rte_ring_count(r0), 0);
	assert_int_equal(o.n_enqueued[0], 7);
	assert_int_equal(o.n_pending, 2);
	assert_int_equal(drain(r1, &next), 7);
	assert_int_equal(sl_edge_flush(&o), 0);
	assert_int_equal(rte_ring_count(r0), 0);
	assert_int_equal(drain(r1, &next), 2);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(r0);
	rte_ring_free(r1);
}

/* A port with two consumers, the second fused: sl_edge_send_prep takes the second
 * reference, the first consumer's ring gets the burst, and what the second's ring cannot
 * take is held in the second's own slot (flushed to its ring, never the first's). */
static void test_overflow_second_consumer(void **st)
{
	struct rte_ring *a = rte_ring_create("t_fuse_2a", 16, SOCKET_ID_ANY, 0); /* holds 15 */
	struct rte_ring *b = rte_ring_create("t_fuse_2b", 8, SOCKET_ID_ANY, 0);	 /* holds 7 */
	struct sl_edge_port port = {
		.n_dest = 2, .dest = { { .ring = a, .consumer = 1 }, { .ring = b, .consumer = 2 } }
	};
	unsigned avail = rte_mempool_avail_count(pool);
	struct sl_edge_out o;
	struct rte_mbuf *ev[10];
	uint64_t next_a = 0, next_b = 2; /* b gets events 2.. */

	(void)st;
	assert_int_equal(sl_edge_out_init(&o, &port, 1, 0, 1), 0);
	alloc_events(ev, 10, 0);
	assert_true(sl_edge_send_prep(&o, 0, ev, 10));
	assert_int_equal(o.n_out, 10);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(rte_mbuf_refcnt_read(ev[i]), 2);
	sl_edge_send_dest(&o, 0, 0, ev, 10);
	sl_edge_send_dest(&o, 0, 1, ev + 2, 8); /* as if the call took the first 2 */
	rte_pktmbuf_free_bulk(ev, 2);		/* ... and consumed them */
	assert_int_equal(o.n_enqueued[0], 10);
	assert_int_equal(o.n_enqueued[1], 7);
	assert_int_equal(o.n_pending, 1);
	assert_int_equal(o.pend[1].n, 1);
	assert_int_equal(o.pend[0].n, 0);
	assert_int_equal(drain(a, &next_a), 10);
	assert_int_equal(drain(b, &next_b), 7);
	assert_int_equal(sl_edge_flush(&o), 0);
	assert_int_equal(rte_ring_count(a), 0);
	assert_int_equal(drain(b, &next_b), 1);
	assert_int_equal(o.n_enqueued[1], 8);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	sl_edge_out_fini(&o);
	rte_ring_free(a);
	rte_ring_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_overflow_block),
		cmocka_unit_test(test_overflow_drop_newest),
		cmocka_unit_test(test_overflow_lane_ring),
		cmocka_unit_test(test_overflow_second_consumer),
	};

	sl_test_eal_init();
	pool = sl_test_pool(1023, 256, &meta_off);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
