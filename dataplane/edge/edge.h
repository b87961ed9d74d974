/*
 * Edges: the rings between nodes and the producer side of them. Every stage and sink has
 * one input ring (rte_ring, MP/MC). A producer task owns a struct sl_edge_out: for each of
 * its output ports, the consumer rings and their policy, plus what could not be enqueued
 * yet. Fan-out shares an event (refcount + 1 per extra consumer), never copies it.
 *
 * Policy per consumer: `block` keeps what did not fit in the producer's pending list, and
 * the producer takes no new input until it is flushed, so a full ring stalls its producers
 * and backpressure walks up to the source; `drop_newest` frees what did not fit and counts
 * it on that edge. Only the owning task's lcore touches a struct sl_edge_out; its counters
 * are read by the control thread (torn reads impossible: aligned 64-bit).
 */
#ifndef SL_EDGE_EDGE_H
#define SL_EDGE_EDGE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

#include <sluice/stage.h>

#include "tap.h"

/** Most consumers of one output port. */
#define SL_EDGE_DEST_MAX 16

struct sl_edge_dest {
	struct rte_ring *ring; /**< the consumer's input ring (n_rings <= 1) */
	uint32_t consumer;     /**< node index of the consumer */
	bool drop_newest;
	/** Per-replica input rings of a replicated consumer (n_rings > 1): a producer whose
	 *  replica count equals n_rings keeps to its lane (replica k -> ring k, so an event
	 *  stays on one lcore); any other producer deals its bursts round-robin. */
	struct rte_ring *const *rings;
	uint16_t n_rings;
};

/** One output port of a producer node (shared by its replicas, read-only while running). */
struct sl_edge_port {
	uint16_t n_dest;
	struct sl_edge_dest dest[SL_EDGE_DEST_MAX];
};

/** Events held for one consumer because its ring was full. */
struct sl_edge_pending {
	struct rte_ring *ring; /**< where they go: the ring the send picked */
	uint16_t head, n;
	struct rte_mbuf *ev[SL_EMIT_CAP];
};

/** A producer task's side of its output edges. */
struct sl_edge_out {
	uint16_t n_ports;
	const struct sl_edge_port *ports;
	uint16_t lane, n_lanes;	      /**< this producer's replica index and count */
	uint32_t rr;		      /**< round-robin cursor over replicated consumers */
	struct sl_edge_pending *pend; /**< one per (port, dest), port-major */
	uint16_t *pend_base;	      /**< first pend index of each port */
	uint32_t n_pending;	      /**< events held, all ports */
	uint64_t n_out;		      /**< events sent on a port with consumers */
	uint64_t n_unrouted;	      /**< events sent on a port with none (freed) */
	uint64_t *n_full_drop;	      /**< per (port, dest): drop_newest losses */
	uint64_t *n_enqueued;	      /**< per (port, dest): events that reached the ring */
	struct sl_tap *tap;	      /**< hooked by the control thread (tap.h); else NULL */
};

/** Set up a producer's outputs; lane / n_lanes are its replica index and count. */
int sl_edge_out_init(struct sl_edge_out *o, const struct sl_edge_port *ports, uint16_t n_ports,
		     uint16_t lane, uint16_t n_lanes);
void sl_edge_out_fini(struct sl_edge_out *o);

/**
 * Send n (<= SL_EMIT_CAP) events on a port. At most one send per port between two points
 * where o->n_pending was 0 (a producer takes new input only when nothing is held), so
 * every consumer's pending slot is free. Ownership of the events passes to the edge.
 */
void sl_edge_send(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n);

/**
 * sl_edge_send in two steps, for a producer that hands some consumers the burst by a call
 * (graph/fuse.h). sl_edge_send_prep is everything before the rings: the tap, n_out, and a
 * reference per consumer beyond the first; false when the port has no consumer (the
 * events were freed and counted as unrouted). sl_edge_send_dest then gives consumer d its
 * share, as sl_edge_send would: the ring its lane or turn picks, and what does not fit
 * held (block) or freed and counted (drop_newest). Same rule of one send per port between
 * flushes.
 */
bool sl_edge_send_prep(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n);
void sl_edge_send_dest(struct sl_edge_out *o, uint16_t port, uint16_t d, struct rte_mbuf **ev,
		       uint16_t n);

/** Retry what is pending; returns events still held. */
uint32_t sl_edge_flush(struct sl_edge_out *o);

/** Free everything pending (forced stop); returns how many were freed. */
uint32_t sl_edge_discard(struct sl_edge_out *o);

#endif
