/*
 * Chain fusion: the rule for which edges are fused and the overflow path of a fused edge
 * (see fuse.h). The rule runs once when the pipeline is built; sl_fuse_overflow runs on
 * the producer's lcore, with no allocation or lock.
 */
#include "fuse.h"

#include <string.h>

#include "base/check.h"

bool sl_fuse_allowed(const struct sl_fuse_edge *e, const char **why)
{
	const char *no = NULL;

	/* Each condition keeps one property of the ring hop that a direct call would lose. */
	if (e->disabled)
		no = "fuse: false";
	else if (e->port_consumers != 1)
		no = "output has more than one consumer"; /* one call per consumer, in turn */
	else if (e->consumer_role == SL_NODE_SOURCE)
		no = "consumer is a source";
	else if (e->consumer_replicas != 1 || e->consumer_rings != 1)
		no = "consumer has replicas"; /* lanes and work stealing need the rings */
	else if (e->consumer_scaled || e->producer_scaled)
		no = "autoscaled"; /* replicas move between task lists */
	else if (e->consumer_inputs != 1)
		no = "consumer has several inputs";
	else if (e->consumer_windowed)
		no = "consumer keeps window state"; /* closes on its own schedule */
	else if (e->consumer_isolated)
		no = "consumer is isolated";
	else if (e->consumer_lcore != e->producer_lcore)
		no = "other lcore"; /* the consumer's task must stay its only caller's thread */
	if (why)
		*why = no;
	return no == NULL;
}

void sl_fuse_overflow(struct sl_edge_out *o, uint16_t port, struct rte_mbuf **ev, uint16_t n)
{
	const struct sl_edge_dest *dst = &o->ports[port].dest[0];
	uint16_t base = o->pend_base[port];
	unsigned int k;

	/* A lane-fused consumer (a sink replica per lane) has a ring per lane: this lane's. */
	struct rte_ring *ring =
		dst->n_rings > 1 && o->n_lanes == dst->n_rings ? dst->rings[o->lane] : dst->ring;

	SL_BUG_ON_HOT(o->ports[port].n_dest != 1 || n > SL_EMIT_CAP);
	k = rte_ring_enqueue_burst(ring, (void *const *)ev, n, NULL);
	o->n_enqueued[base] += k;
	if (k == n)
		return;
	if (dst->drop_newest) {
		rte_pktmbuf_free_bulk(ev + k, n - k);
		o->n_full_drop[base] += n - k;
		return;
	}
	struct sl_edge_pending *pd = &o->pend[base];
	/* The producer sends only when nothing is pending, so the slot is free. */
	SL_BUG_ON_HOT(pd->n != 0);
	memcpy(pd->ev, ev + k, (n - k) * sizeof(*ev));
	pd->ring = ring;
	pd->head = 0;
	pd->n = (uint16_t)(n - k);
	o->n_pending += n - k;
}
