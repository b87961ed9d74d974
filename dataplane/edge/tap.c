/*
 * Taps (see tap.h). Producers: an atomic rate gate, one slot from the free ring (MC), one
 * copy, the slot onto the full ring (MP). Control thread: single consumer of the full
 * ring, single producer of the free ring... except that producers also dequeue from it,
 * so both rings are plain MP/MC rings.
 */
#include "tap.h"

#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include <sluice/event.h>

struct sl_tap *sl_tap_create(const char *name, int meta_offset)
{
	struct sl_tap *t = rte_zmalloc(name, sizeof(*t), RTE_CACHE_LINE_SIZE);
	char rn[RTE_RING_NAMESIZE];

	if (!t)
		return NULL;
	t->meta_offset = meta_offset;
	t->items = rte_zmalloc(name, sizeof(*t->items) * SL_TAP_SLOTS, RTE_CACHE_LINE_SIZE);
	snprintf(rn, sizeof(rn), "%.24s_f", name);
	t->full = rte_ring_create(rn, SL_TAP_SLOTS * 2, SOCKET_ID_ANY, 0);
	snprintf(rn, sizeof(rn), "%.24s_e", name);
	t->free = rte_ring_create(rn, SL_TAP_SLOTS * 2, SOCKET_ID_ANY, 0);
	if (!t->items || !t->full || !t->free) {
		sl_tap_free(t);
		return NULL;
	}
	for (unsigned i = 0; i < SL_TAP_SLOTS; i++)
		rte_ring_enqueue(t->free, &t->items[i]);
	return t;
}

void sl_tap_free(struct sl_tap *t)
{
	if (!t)
		return;
	rte_ring_free(t->full);
	rte_ring_free(t->free);
	rte_free(t->items);
	rte_free(t);
}

void sl_tap_arm(struct sl_tap *t, uint16_t port, double rate, uint64_t tsc_hz)
{
	struct sl_tap_item *it;
	double period;

	while ((it = sl_tap_take(t)) != NULL)
		sl_tap_release(t, it);
	t->port = port;
	/* Callers keep rate within 0.001..100000 (message.h); a period that does not fit in
	 * 64 bits (undefined to convert) is clamped all the same: "never again", in effect. */
	period = rate > 0 ? (double)tsc_hz / rate : 0;
	t->period_tsc = period < 0x1p62 ? (uint64_t)period : UINT64_C(1) << 62;
	__atomic_store_n(&t->next_tsc, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->n_taken, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->n_no_slot, 0, __ATOMIC_RELAXED);
	/* Release: a producer that loads the new gen sees this arming's port and period. */
	__atomic_store_n(&t->gen, t->gen + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&t->armed, 1, __ATOMIC_RELEASE);
}

void sl_tap_disarm(struct sl_tap *t)
{
	__atomic_store_n(&t->armed, 0, __ATOMIC_RELEASE);
}

void sl_tap_offer(struct sl_tap *t, uint16_t port, struct rte_mbuf *const *ev, uint16_t n)
{
	uint64_t now, next;
	struct sl_tap_item *it;
	const struct rte_mbuf *m;
	const struct sl_meta *meta;
	uint32_t gen;

	if (!__atomic_load_n(&t->armed, __ATOMIC_ACQUIRE) || n == 0)
		return;
	gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
	if (t->port != SL_TAP_ALL_PORTS && t->port != port)
		return;
	now = rte_rdtsc();
	next = __atomic_load_n(&t->next_tsc, __ATOMIC_RELAXED);
	if (now < next || !__atomic_compare_exchange_n(&t->next_tsc, &next, now + t->period_tsc,
						       false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	if (rte_ring_dequeue(t->free, (void **)&it) != 0) {
		__atomic_fetch_add(&t->n_no_slot, 1, __ATOMIC_RELAXED);
		return;
	}
	/* Which event of the burst: spread by the clock, not always the first. */
	m = ev[now % n];
	meta = sl_event_meta(t->meta_offset, (struct rte_mbuf *)(uintptr_t)m);
	it->event_id = meta->event_id;
	it->kind = meta->kind;
	it->raw_len = meta->raw_len;
	it->rec_off = meta->rec_off;
	it->port = port;
	it->gen = gen;
	it->orig_len = m->data_len;
	it->len = RTE_MIN((uint32_t)m->data_len, (uint32_t)SL_TAP_SLOT_BYTES);
	memcpy(it->data, rte_pktmbuf_mtod(m, const char *), it->len);
	__atomic_fetch_add(&t->n_taken, 1, __ATOMIC_RELAXED);
	rte_ring_enqueue(t->full, it);
}

struct sl_tap_item *sl_tap_take(struct sl_tap *t)
{
	struct sl_tap_item *it;

	while (rte_ring_dequeue(t->full, (void **)&it) == 0) {
		if (it->gen == t->gen)
			return it;
		sl_tap_release(t, it);
	}
	return NULL;
}

void sl_tap_release(struct sl_tap *t, struct sl_tap_item *it)
{
	rte_ring_enqueue(t->free, it);
}
