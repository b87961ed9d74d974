/*
 * Chain fusion: which edges a producer may hand its bursts across as a direct call into
 * the consumer's stage or sink, instead of a ring enqueue that the consumer's task
 * dequeues on a later round. A fused chain (`dpdk rx -> pkt_parse -> pkt_filter -> tx`
 * on one lcore) runs each burst to completion while it is in L1, with no ring hop
 * between the nodes. The consumer's ring stays: it takes whatever the consumer cannot
 * take at that moment (its own outputs are held for a full ring, a sink still holds
 * events, the ring already has events, which must go first), so backpressure and order
 * are as without fusion. Each consumer of an output port is judged on its own: a port
 * that fans out to two aggregates on the producer's lcore (`parse -> by_status, by_path`)
 * calls both in turn, each event shared by reference as a ring send shares it.
 * docs/architecture.md, "Fusion".
 *
 * This file holds the rule (a pure function of the two ends, unit-tested); pipeline.c
 * makes the plan when tasks are assigned and does the calls, and what a fused consumer
 * cannot take goes to its ring by sl_edge_send_dest (edge.h). Control path.
 */
#ifndef SL_GRAPH_FUSE_H
#define SL_GRAPH_FUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/** What the rule needs to know of an edge's two ends. */
struct sl_fuse_edge {
	enum sl_node_role consumer_role;
	uint32_t consumer_replicas; /**< replicas (1 for a sink) */
	uint32_t consumer_inputs;   /**< entries of the consumer's `inputs:` */
	uint32_t consumer_rings;    /**< input rings (1 unless lanes or keyed rings) */
	bool consumer_scaled;	    /**< `scale:` (replicas come and go) */
	bool consumer_isolated;	    /**< any `isolation:` key (a sandbox or another engine) */
	unsigned consumer_lcore;
	bool producer_scaled;
	unsigned producer_lcore;
	bool disabled; /**< top-level `fuse: false` */
};

/** Whether the edge may be fused; when not, *why (if given) says why in a few words. */
bool sl_fuse_allowed(const struct sl_fuse_edge *e, const char **why);

#endif
