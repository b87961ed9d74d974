/*
 * Producer side of edges: fan-out by refcount, enqueue in bursts, per-consumer pending
 * lists for `block` and counted losses for `drop_newest` (see edge.h). Runs on the
 * producer task's lcore only; no locks, no allocation after init.
 */
#include "edge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "base/check.h"

int sl_edge_out_init(struct sl_edge_out *o, const struct sl_edge_port *ports, uint16_t n_ports,
		     uint16_t lane, uint16_t n_lanes)
{
	uint32_t n_pend = 0;

	memset(o, 0, sizeof(*o));
	o->ports = ports;
	o->n_ports = n_ports;
	o->lane = lane;
	o->n_lanes = n_lanes;
	o->pend_base = calloc(n_ports + 1u, sizeof(*o->pend_base));
	if (!o->pend_base)
		return -ENOMEM;
	for (uint16_t p = 0; p < n_ports; p++) {
		o->pend_base[p] = (uint16_t)n_pend;
		n_pend += ports[p].n_dest;
	}
	o->pend_base[n_ports] = (uint16_t)n_pend;
	o->pend = calloc(n_pend ? n_pend : 1, sizeof(*o->pend));
	o->n_full_drop = calloc(n_pend ? n_pend : 1, sizeof(uint64_t));
	o->n_enqueued = calloc(n_pend ? n_pend : 1, sizeof(uint64_t));
	if (!o->pend || !o->n_full_drop || !o->n_enqueued) {
		sl_edge_out_fini(o);
		return -ENOMEM;
	}
	return 0;
}

void sl_edge_out_fini(struct sl_edge_out *o)
{
	free(o->pend);
	free(o->pend_base);
	free(o->n_full_drop);
	free(o->n_enqueued);
	memset(o, 0, sizeof(*o));
}

/* The ring a send to dst uses: its only ring, this producer's lane, or the next in turn. */
static inline struct rte_ring *edge_pick(struct sl_edge_out *o, const struct sl_edge_dest *dst)
{
	if (dst->n_rings <= 1)
		return dst->ring;
	if (o->n_lanes == dst->n_rings)
		return dst->rings[o->lane];
	return dst->rings[o->rr++ % dst->n_rings];
}

static inline bool edge_prep(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n)
{
	const struct sl_edge_port *p = &o->ports[port];

	SL_BUG_ON_HOT(n > SL_EMIT_CAP || port >= o->n_ports);
	if (n == 0)
		return false;
	/* The only cost of taps while nobody taps: this load and branch, once per burst. */
	struct sl_tap *tap = __atomic_load_n(&o->tap, __ATOMIC_ACQUIRE);
	if (unlikely(tap != NULL))
		sl_tap_offer(tap, port, ev, n);
	if (p->n_dest == 0) {
		rte_pktmbuf_free_bulk(ev, n);
		o->n_unrouted += n;
		return false;
	}
	o->n_out += n;
	if (p->n_dest > 1)
		for (uint16_t i = 0; i < n; i++)
			rte_mbuf_refcnt_update(ev[i], (int16_t)(p->n_dest - 1));
	return true;
}

static inline void edge_dest(struct sl_edge_out *o, uint16_t port, uint16_t d, struct rte_mbuf **ev,
			     uint16_t n)
{
	const struct sl_edge_dest *dst = &o->ports[port].dest[d];
	uint16_t slot = o->pend_base[port] + d;
	struct rte_ring *ring = edge_pick(o, dst);
	unsigned int k = rte_ring_enqueue_burst(ring, (void *const *)ev, n, NULL);

	o->n_enqueued[slot] += k;
	if (k == n)
		return;
	if (dst->drop_newest) {
		rte_pktmbuf_free_bulk(ev + k, n - k);
		o->n_full_drop[slot] += n - k;
		return;
	}
	struct sl_edge_pending *pd = &o->pend[slot];
	/* One send per port between flushes, so the slot is free. */
	SL_BUG_ON_HOT(pd->n != 0);
	memcpy(pd->ev, ev + k, (n - k) * sizeof(*ev));
	pd->ring = ring;
	pd->head = 0;
	pd->n = (uint16_t)(n - k);
	o->n_pending += n - k;
}

void sl_edge_send(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n)
{
	if (!edge_prep(o, port, ev, n))
		return;
	for (uint16_t d = 0; d < o->ports[port].n_dest; d++)
		edge_dest(o, port, d, ev, n);
}

bool sl_edge_send_prep(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n)
{
	return edge_prep(o, port, ev, n);
}

void sl_edge_send_dest(struct sl_edge_out *o, uint16_t port, uint16_t d, struct rte_mbuf **ev,
		       uint16_t n)
{
	SL_BUG_ON_HOT(d >= o->ports[port].n_dest || n > SL_EMIT_CAP);
	if (n)
		edge_dest(o, port, d, ev, n);
}

uint32_t sl_edge_flush(struct sl_edge_out *o)
{
	if (o->n_pending == 0)
		return 0;
	for (uint16_t port = 0; port < o->n_ports; port++) {
		const struct sl_edge_port *p = &o->ports[port];
		uint16_t base = o->pend_base[port];

		for (uint16_t d = 0; d < p->n_dest; d++) {
			struct sl_edge_pending *pd = &o->pend[base + d];
			unsigned int k;

			if (pd->n == 0)
				continue;
			k = rte_ring_enqueue_burst(pd->ring, (void *const *)&pd->ev[pd->head],
						   pd->n, NULL);
			pd->head = (uint16_t)(pd->head + k);
			pd->n = (uint16_t)(pd->n - k);
			o->n_pending -= k;
			o->n_enqueued[base + d] += k;
		}
	}
	return o->n_pending;
}

uint32_t sl_edge_discard(struct sl_edge_out *o)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < o->pend_base[o->n_ports]; i++) {
		struct sl_edge_pending *pd = &o->pend[i];
		if (pd->n)
			rte_pktmbuf_free_bulk(&pd->ev[pd->head], pd->n);
		n += pd->n;
		pd->n = 0;
	}
	o->n_pending = 0;
	return n;
}
