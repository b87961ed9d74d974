/*
 * Test harness helpers: bring up a small EAL for tests that need mempools and rings
 * (no hugepages, in-memory, one lcore, quiet), once per process.
 */
#ifndef SL_TEST_EAL_H
#define SL_TEST_EAL_H

#include <rte_mempool.h>
#include <rte_ring.h>

#include <sluice/stage.h>

#include "eal/eal.h"
#include "event/event.h"

/** Initialise the EAL for a test; aborts the test program if that fails. */
void sl_test_eal_init(void);

/** What sl_eal_init reported for the test's EAL (after sl_test_eal_init). */
extern struct sl_eal_info sl_test_eal_info;

/** A pktmbuf pool of n events of data room bytes each, with the sluice meta dynfield
 *  registered; *meta_offset receives its offset. */
struct rte_mempool *sl_test_pool(unsigned n, unsigned data_room, int *meta_offset);

/** A line event holding s (no newline) from pool, metadata zeroed but kind and raw_len;
 *  NULL when the pool is empty. */
struct rte_mbuf *sl_test_line_event(struct rte_mempool *pool, int meta_offset, const char *s);

/** Fill ev with n events from pool whose event ids run first, first + 1, ...; exits the
 *  test program when the pool is short. */
void sl_test_numbered(struct rte_mempool *pool, int meta_offset, struct rte_mbuf **ev, unsigned n,
		      uint64_t first);

/** Dequeue and free every event of r, checking that their ids run on from *next_id (which
 *  advances); exits the test program on a gap or reordering. Returns how many. */
unsigned sl_test_drain_numbered(struct rte_ring *r, int meta_offset, uint64_t *next_id);

/** The built-in stage called name; exits the test program when there is none. */
const struct sl_stage_desc *sl_test_builtin(const char *name);

/** A context for process() calls: the runtime's host table over pool (through priv), the
 *  meta offset, counters, the stage's name, and every field wanted (fields_mask all ones). */
struct sl_ctx sl_test_ctx(struct sl_ctx_host *priv, struct rte_mempool *pool, int meta_offset,
			  uint64_t *counters, const char *name);

#endif
