/*
 * Chain fusion: which edges a producer may hand its bursts across as a direct call into
 * the consumer's stage or sink, instead of a ring enqueue that the consumer's task
 * dequeues on a later round. A fused chain (`dpdk rx -> pkt_parse -> pkt_filter -> tx`
 * on one lcore) runs each burst to completion while it is in L1, with no ring hop
 * between the nodes. The consumer's ring stays: it takes whatever the consumer cannot
 * take at that moment (its own outputs are held for a full ring, a sink still holds
 * events, the ring already has events, which must go first), so backpressure and order
 * are as without fusion. docs/architecture.md, "Fusion".
 *
 * This file holds the rule (a pure function of the two ends, unit-tested) and the
 * overflow path; pipeline.c makes the plan when tasks are assigned and does the calls.
 * Control path, except sl_fuse_overflow (the producer's lcore).
 */
#ifndef SL_GRAPH_FUSE_H
#define SL_GRAPH_FUSE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "config/config.h"
#include "edge/edge.h"

/** What the rule needs to know of an edge's two ends. */
struct sl_fuse_edge {
	enum sl_node_role consumer_role;
	uint32_t consumer_replicas; /**< replicas (1 for a sink) */
	uint32_t consumer_inputs;   /**< entries of the consumer's `inputs:` */
	uint32_t consumer_rings;    /**< input rings (1 unless lanes or keyed rings) */
	bool consumer_scaled;	    /**< `scale:` (replicas come and go) */
	bool consumer_windowed;	    /**< a window or state (closes on its own schedule) */
	bool consumer_isolated;	    /**< any `isolation:` key (a sandbox or another engine) */
	unsigned consumer_lcore;
	bool producer_scaled;
	unsigned producer_lcore;
	uint16_t port_consumers; /**< consumers of the producer's output port */
	bool disabled;		 /**< top-level `fuse: false` */
};

/** Whether the edge may be fused; when not, *why (if given) says why in a few words. */
bool sl_fuse_allowed(const struct sl_fuse_edge *e, const char **why);

/**
 * The rest of a burst a fused consumer could not take: enqueue it on the ring of the
 * port's only consumer (dest 0) with the edge's policy, exactly as sl_edge_send would
 * (block: what does not fit is held as pending; drop_newest: freed and counted). The tap
 * and n_out were counted for the whole burst by the caller.
 */
void sl_fuse_overflow(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n);

#endif
