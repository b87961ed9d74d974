/*
 * Event pools with big buffers (event.h): line limits per size, every mbuf of a pool can
 * be enlarged at once and the buffers come back when the events are freed (also when the
 * last of several references goes), an unshared copy of an enlarged event is enlarged too,
 * and a fresh result event gets a big buffer. sl_event_free_bulk returns plain events and
 * leaves a shared, enlarged or foreign one to the library path, with the same outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include "../../tests/lib/eal.h"
#include "event/event.h"

#define N_EVENTS 64

static struct rte_mempool *pool;
static int meta_off;

static int setup(void **state)
{
	struct sl_event_pool_conf conf = { .name = "evtest",
					   .n_events = N_EVENTS,
					   .data_room = 1024,
					   .big_room = 4096,
					   .cache = 0,
					   .socket = -1 };

	(void)state;
	sl_test_eal_init();
	return sl_event_pool_create(&conf, &pool, &meta_off);
}

static int teardown(void **state)
{
	(void)state;
	sl_event_pool_free(pool);
	return 0;
}

static void test_line_limits(void **state)
{
	(void)state;
	/* Half the room; less the margin for the small size, which has somewhere to go. */
	assert_int_equal(sl_event_line_max(pool), 4096 / 2);
	assert_int_equal(sl_event_line_max_small(pool), 1024 / 2 - SL_EVENT_LINE_MARGIN);
	/* A pool without big buffers: half its room, no margin. */
	int plain_off;
	struct rte_mempool *plain = sl_test_pool(128, 1024, &plain_off);
	assert_int_equal(sl_event_line_max(plain), 512);
	assert_int_equal(sl_event_line_max_small(plain), 512);
	struct rte_mbuf *m = rte_pktmbuf_alloc(plain);
	assert_false(sl_event_enlarge(m));
	assert_int_equal(rte_pktmbuf_tailroom(m), 1024);
	rte_pktmbuf_free(m);
}

static void test_all_enlarged_and_returned(void **state)
{
	struct rte_mbuf *m[N_EVENTS];

	(void)state;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(rte_pktmbuf_alloc_bulk(pool, m, N_EVENTS), 0);
		for (int i = 0; i < N_EVENTS; i++) {
			assert_true(sl_event_enlarge(m[i]));
			assert_true(RTE_MBUF_HAS_EXTBUF(m[i]));
			assert_int_equal(rte_pktmbuf_headroom(m[i]), RTE_PKTMBUF_HEADROOM);
			assert_true(rte_pktmbuf_tailroom(m[i]) >= 4096);
			/* Fill the whole room: buffers must not overlap (checked below). */
			memset(rte_pktmbuf_mtod(m[i], char *), i + 1, 4096);
			m[i]->data_len = 4096;
			m[i]->pkt_len = 4096;
		}
		for (int i = 0; i < N_EVENTS; i++) {
			const unsigned char *p = rte_pktmbuf_mtod(m[i], unsigned char *);
			assert_int_equal(p[0], i + 1);
			assert_int_equal(p[4095], i + 1);
		}
		/* Every mbuf is out: the pool is empty, the big buffers too. */
		assert_int_equal(rte_mempool_avail_count(pool), 0);
		/* One event with a second reference: its buffer stays until both are gone. */
		rte_mbuf_refcnt_update(m[0], 1);
		rte_pktmbuf_free_bulk(m, N_EVENTS);
		assert_int_equal(rte_mempool_avail_count(pool), N_EVENTS - 1);
		assert_true(RTE_MBUF_HAS_EXTBUF(m[0]));
		/* The others' buffers are free again, and m[0]'s is not among them. */
		for (int i = 1; i < N_EVENTS; i++) {
			m[i] = rte_pktmbuf_alloc(pool);
			assert_true(sl_event_enlarge(m[i]));
			memset(rte_pktmbuf_mtod(m[i], char *), 0xee, 4096);
		}
		assert_int_equal(rte_pktmbuf_mtod(m[0], unsigned char *)[100], 1);
		rte_pktmbuf_free_bulk(&m[1], N_EVENTS - 1);
		rte_pktmbuf_free(m[0]);
		assert_int_equal(rte_mempool_avail_count(pool), N_EVENTS);
	}
	/* Freed events are direct again, with their own room. */
	struct rte_mbuf *d = rte_pktmbuf_alloc(pool);
	assert_true(RTE_MBUF_DIRECT(d));
	assert_int_equal(rte_pktmbuf_tailroom(d), 1024);
	rte_pktmbuf_free(d);
}

static void test_unshare_and_alloc_are_big(void **state)
{
	struct sl_ctx_host priv = { 0 };
	uint64_t counters[4] = { 0 };
	struct sl_ctx ctx = sl_test_ctx(&priv, pool, meta_off, counters, "t");
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool), *copy, *small, *scopy, *res;
	char line[2000];

	(void)state;
	memset(line, 'x', sizeof(line));
	assert_true(sl_event_enlarge(m));
	memcpy(rte_pktmbuf_mtod(m, char *), line, sizeof(line));
	m->data_len = sizeof(line);
	m->pkt_len = sizeof(line);
	sl_event_meta(meta_off, m)->raw_len = sizeof(line);
	rte_mbuf_refcnt_update(m, 1); /* shared by two consumers */
	copy = ctx.host->event_unshare(&ctx, m);
	assert_non_null(copy);
	assert_ptr_not_equal(copy, m);
	assert_true(RTE_MBUF_HAS_EXTBUF(copy));
	assert_true(rte_pktmbuf_tailroom(copy) >= 4096 - sizeof(line));
	assert_memory_equal(rte_pktmbuf_mtod(copy, char *), line, sizeof(line));
	assert_int_equal(sl_event_meta(meta_off, copy)->raw_len, sizeof(line));
	rte_pktmbuf_free(copy);
	rte_pktmbuf_free(m); /* the other consumer's reference */

	small = sl_test_line_event(pool, meta_off, "short line");
	rte_mbuf_refcnt_update(small, 1);
	scopy = ctx.host->event_unshare(&ctx, small);
	assert_true(RTE_MBUF_DIRECT(scopy));
	assert_int_equal(scopy->data_len, 10);
	rte_pktmbuf_free(scopy);
	rte_pktmbuf_free(small);

	res = ctx.host->event_alloc(&ctx);
	assert_non_null(res);
	assert_true(RTE_MBUF_HAS_EXTBUF(res));
	rte_pktmbuf_free(res);
	assert_int_equal(rte_mempool_avail_count(pool), N_EVENTS);
	assert_int_equal(priv.n_alloc_fail, 0);
}

/* Every mbuf of pool p (at most 128) is back in it, fresh (direct, one reference, one
 * segment); in the test's event pool each big buffer is free too: all can be enlarged. */
static void assert_all_back(struct rte_mempool *p, unsigned n)
{
	struct rte_mbuf *m[128];

	assert_true(n <= 128);
	assert_int_equal(rte_mempool_avail_count(p), n);
	assert_int_equal(rte_pktmbuf_alloc_bulk(p, m, n), 0);
	for (unsigned i = 0; i < n; i++) {
		assert_true(RTE_MBUF_DIRECT(m[i]));
		assert_int_equal(rte_mbuf_refcnt_read(m[i]), 1);
		assert_int_equal(m[i]->nb_segs, 1);
		if (p == pool)
			assert_true(sl_event_enlarge(m[i]));
	}
	rte_pktmbuf_free_bulk(m, n);
}

static void test_free_bulk(void **state)
{
	struct rte_mbuf *m[N_EVENTS];
	int other_off;
	struct rte_mempool *other = sl_test_pool(128, 1024, &other_off);

	(void)state;
	/* Plain events: straight back. */
	assert_int_equal(rte_pktmbuf_alloc_bulk(pool, m, N_EVENTS), 0);
	sl_event_free_bulk(m, N_EVENTS);
	assert_all_back(pool, N_EVENTS);
	sl_event_free_bulk(m, 0);

	/* One shared event among plain ones: it stays with its other reference, and the
	 * reference count is right for the library's free after. */
	assert_int_equal(rte_pktmbuf_alloc_bulk(pool, m, 8), 0);
	rte_mbuf_refcnt_update(m[5], 1);
	sl_event_free_bulk(m, 8);
	assert_int_equal(rte_mempool_avail_count(pool), N_EVENTS - 1);
	assert_int_equal(rte_mbuf_refcnt_read(m[5]), 1);
	rte_pktmbuf_free(m[5]);
	assert_all_back(pool, N_EVENTS);

	/* An enlarged event: its big buffer is given back too. */
	assert_int_equal(rte_pktmbuf_alloc_bulk(pool, m, 8), 0);
	assert_true(sl_event_enlarge(m[7]));
	sl_event_free_bulk(m, 8);
	assert_all_back(pool, N_EVENTS);

	/* A chained event: both segments come back. */
	assert_int_equal(rte_pktmbuf_alloc_bulk(pool, m, 3), 0);
	assert_int_equal(rte_pktmbuf_chain(m[1], m[2]), 0);
	sl_event_free_bulk(m, 2);
	assert_all_back(pool, N_EVENTS);

	/* Every event shared, more than a chunk of them: the first free drops one reference
	 * each, the second returns them all. */
	{
		struct rte_mbuf *o[100];

		assert_int_equal(rte_pktmbuf_alloc_bulk(other, o, 100), 0);
		for (int i = 0; i < 100; i += 2)
			rte_mbuf_refcnt_update(o[i], 1);
		sl_event_free_bulk(o, 100);
		assert_int_equal(rte_mempool_avail_count(other), 128 - 50);
		for (int i = 0; i < 50; i++) {
			assert_int_equal(rte_mbuf_refcnt_read(o[2 * i]), 1);
			o[i] = o[2 * i];
		}
		sl_event_free_bulk(o, 50);
		assert_all_back(other, 128);
	}

	/* An event of another pool: each goes home. */
	assert_int_equal(rte_pktmbuf_alloc_bulk(pool, m, 4), 0);
	m[4] = rte_pktmbuf_alloc(other);
	assert_non_null(m[4]);
	sl_event_free_bulk(m, 5);
	assert_all_back(pool, N_EVENTS);
	assert_int_equal(rte_mempool_avail_count(other), 128);
	rte_mempool_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_all_enlarged_and_returned),
		cmocka_unit_test(test_unshare_and_alloc_are_big),
		cmocka_unit_test(test_free_bulk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
