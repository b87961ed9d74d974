/*
 * Event pools and the host table. The runtime creates one pktmbuf pool per run (per
 * socket once NUMA matters), registers the sluice_meta dynfield once per process, and
 * gives every stage the same struct sl_host. Control path, except the host callbacks and
 * sl_event_enlarge, which run on workers and allocate only from the pool.
 *
 * Two sizes of event. Every mbuf has a small data room (SL_EVENT_SMALL_ROOM): most lines
 * and packets fit, and the pool stays small (the pool is sized for every ring full, and
 * its memory is zeroed and walked once at start-up). A longer line borrows a big buffer
 * (SL_EVENT_DATA_ROOM) attached as an mbuf external buffer (sl_event_enlarge); freeing
 * the event gives the buffer back. Big buffers come from a lock-free LIFO stack over
 * memory mapped without touching it: there are as many as mbufs, so a pipeline never
 * waits for one that a full ring holds, but pages are faulted in only for buffers that
 * are used, and LIFO reuse keeps that set as small as the long lines in flight.
 */
#ifndef SL_EVENT_EVENT_H
#define SL_EVENT_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <sluice/stage.h>

#include "base/log.h"

struct sl_event_pool_conf {
	const char *name;
	unsigned n_events;  /**< mbufs in the pool */
	unsigned data_room; /**< bytes of data per mbuf (excluding headroom) */
	unsigned big_room;  /**< bytes of data of an enlarged event; 0: none */
	unsigned cache;	    /**< per-lcore cache */
	int socket;	    /**< SOCKET_ID_ANY when < 0 */
};

/** Bytes of data per event: a line of up to half of this plus the record parsed from it
 *  (about the line's size again) fit in one mbuf. */
#define SL_EVENT_DATA_ROOM  8192 /**< data room of the biggest event (enlarged) */
#define SL_EVENT_SMALL_ROOM 2048 /**< data room of every mbuf */

/*
 * Line limits. A source puts a line of len bytes in an event whose room leaves space for
 * the record a parser appends behind it: half the room for an enlarged event (lines up to
 * 4096 bytes), and for a small one half less SL_EVENT_LINE_MARGIN (lines up to 768), so a
 * record up to the line's size plus 512 bytes of keys and headers still fits.
 */
#define SL_EVENT_LINE_MARGIN 256

/** The longest line an event of pool can hold, enlarged if it has big buffers. */
uint32_t sl_event_line_max(struct rte_mempool *pool);

/** The longest line an mbuf of pool holds without being enlarged. */
uint32_t sl_event_line_max_small(struct rte_mempool *pool);

/** Attach a big buffer to m, a fresh mbuf of an event pool (direct, unshared, empty):
 *  its data room becomes the pool's big_room. False when the pool has no big buffers or
 *  none is free (m is unchanged). Lock-free; for workers. */
bool sl_event_enlarge(struct rte_mbuf *m);

/** Move a small event's bytes into a big buffer (sl_event_enlarge), so that a stage that
 *  rewrites its record has the big data room: for an event of one segment and one
 *  reference that is not big already. False (the event unchanged) otherwise, or when no
 *  big buffer is free. Rare (a rewrite that did not fit), so a copy. */
bool sl_event_grow(struct rte_mbuf *m);

/** Register the meta dynfield (idempotent) and return its offset, or -errno. */
int sl_event_meta_register(void);

/** Create a pool; *meta_offset receives the dynfield offset. 0 or -errno. */
int sl_event_pool_create(const struct sl_event_pool_conf *conf, struct rte_mempool **out,
			 int *meta_offset);

/** Free a pool made by sl_event_pool_create and its big buffers; every event must be
 *  back in it. NULL is a no-op. */
void sl_event_pool_free(struct rte_mempool *pool);

/**
 * Free n events, as rte_pktmbuf_free_bulk. Plain events of one pool (direct, one segment,
 * what a source makes and a sink or a consuming stage lets go) go straight back to the
 * pool's lcore cache, as a NIC driver's fast free does; one with other references (a
 * fan-out's copy) only loses this one, as the library does, but without its per-event
 * call (~40 instructions an event, a fifth of the read-once run's own work per line). An
 * enlarged, chained or foreign event takes the library path. Out of line (one call a
 * burst): inlined, with the mempool code it pulls in, it cost each file using it seconds
 * of compile time in the ASan build.
 */
void sl_event_free_bulk(struct rte_mbuf **ev, unsigned n);

/** The host table handed to stages; ctx->host_priv must point at the replica's pool
 *  holder (struct sl_ctx_host). */
extern const struct sl_host sl_host_table;

/** What the host callbacks find behind ctx->host_priv. */
struct sl_ctx_host {
	struct rte_mempool *pool;
	uint64_t n_alloc_fail;	       /**< event_alloc calls that found the pool empty */
	uint64_t n_unshare_drop;       /**< input events lost because a private copy failed */
	struct sl_log_limit log_limit; /**< host->log from this replica (data path) */
};

#endif
