/*
 * Event pools and the host table. The runtime creates one pktmbuf pool per run (per
 * socket once NUMA matters), registers the sluice_meta dynfield once per process, and
 * gives every stage the same struct sl_host. Control path, except the host callbacks,
 * which run on workers and allocate only from the pool.
 */
#ifndef SL_EVENT_EVENT_H
#define SL_EVENT_EVENT_H

#include <stdint.h>

#include <rte_mempool.h>

#include <sluice/stage.h>

struct sl_event_pool_conf {
	const char *name;
	unsigned n_events;  /**< mbufs in the pool */
	unsigned data_room; /**< bytes of data per event (excluding headroom) */
	unsigned cache;	    /**< per-lcore cache */
	int socket;	    /**< SOCKET_ID_ANY when < 0 */
};

/** Bytes of data per event: a line of up to half of this plus the record parsed from it
 *  (about the line's size again) fit in one mbuf. */
#define SL_EVENT_DATA_ROOM 8192

/** Register the meta dynfield (idempotent) and return its offset, or -errno. */
int sl_event_meta_register(void);

/** Create a pool; *meta_offset receives the dynfield offset. 0 or -errno. */
int sl_event_pool_create(const struct sl_event_pool_conf *conf, struct rte_mempool **out,
			 int *meta_offset);

/** The host table handed to stages; ctx->host_priv must point at the replica's pool
 *  holder (struct sl_ctx_host). */
extern const struct sl_host sl_host_table;

/** What the host callbacks find behind ctx->host_priv. */
struct sl_ctx_host {
	struct rte_mempool *pool;
	uint64_t n_alloc_fail;	 /**< event_alloc calls that found the pool empty */
	uint64_t n_unshare_drop; /**< input events lost because a private copy failed */
};

#endif
