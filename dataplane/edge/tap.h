/*
 * Taps: sampled copies of the events a node sends on its outputs, for `sluice tap`
 * (docs/control.md). The control thread makes a tap and hangs it on every replica's
 * struct sl_edge_out (sl_pipeline_tap); sl_edge_send then offers each burst to it: one
 * predictable branch per burst while nobody taps. An offer takes at most one event per
 * burst, and only when the tap's rate allows (a shared next-sample time advanced by
 * compare-and-swap, so replicas on several lcores share one rate); it copies the event's
 * bytes and metadata into a free slot (a fixed array cycled through two rings), never
 * keeps the mbuf, and counts what it had to skip. The control thread takes filled slots,
 * formats them and gives them back.
 *
 * A tap is never freed while the pipeline runs (a producer may still hold the pointer it
 * loaded just before the tap was unhooked); the control thread keeps and reuses them.
 */
#ifndef SL_EDGE_TAP_H
#define SL_EDGE_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#define SL_TAP_SLOTS 64
/* Bytes of an event kept: the biggest event holds 8 KiB; longer frames are cut (flagged). */
#define SL_TAP_SLOT_BYTES 8192
#define SL_TAP_ALL_PORTS  UINT16_MAX

struct sl_tap_item {
	uint64_t event_id;
	uint32_t len;	   /* bytes in data */
	uint32_t orig_len; /* the event's data_len */
	uint16_t port;
	uint8_t kind; /* enum sl_event_kind */
	uint16_t raw_len, rec_off;
	uint32_t gen; /* the arming it was taken under (struct sl_tap's gen) */
	char data[SL_TAP_SLOT_BYTES];
};

struct sl_tap {
	uint16_t port; /* the output tapped, or SL_TAP_ALL_PORTS */
	int meta_offset;
	uint64_t period_tsc; /* TSC ticks between two samples */
	uint64_t next_tsc;   /* shared by producers: CAS */
	uint32_t armed;	     /* atomic: offers are taken */
	uint32_t gen;	     /* atomic: bumped by every arming; stale slots are dropped */
	uint64_t n_taken;    /* atomic: events copied */
	uint64_t n_no_slot;  /* atomic: a sample was due but every slot was full */
	struct rte_ring *full, *free;
	struct sl_tap_item *items;
};

/** A disarmed tap with SL_TAP_SLOTS slots (control thread). NULL on failure. */
struct sl_tap *sl_tap_create(const char *name, int meta_offset);
void sl_tap_free(struct sl_tap *t);

/** Arm t for port (or SL_TAP_ALL_PORTS) at rate samples per second; returns every
 *  filled slot to the free ring first (control thread, tap not hooked or disarmed). */
void sl_tap_arm(struct sl_tap *t, uint16_t port, double rate, uint64_t tsc_hz);
void sl_tap_disarm(struct sl_tap *t);

/** Producer side (worker lcores): offer n events sent on port. Cold: called only when a
 *  tap is hooked. */
void sl_tap_offer(struct sl_tap *t, uint16_t port, struct rte_mbuf *const *ev, uint16_t n);

/** Control side: the next filled slot of the current arming, or NULL; give it back with
 *  sl_tap_release. A producer that passed the armed check just before a disarm may fill a
 *  slot after the next arming began (for another port, say): such slots carry the old gen
 *  and are recycled here, never shown. */
struct sl_tap_item *sl_tap_take(struct sl_tap *t);
void sl_tap_release(struct sl_tap *t, struct sl_tap_item *it);

#endif
