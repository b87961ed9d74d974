/*
 * Sluice SDK: events. One event is one rte_mbuf from a runtime mempool. Its metadata
 * (struct sl_meta) lives in a registered mbuf dynfield whose offset the runtime hands to
 * every stage in struct sl_ctx. A line event carries the line bytes at data offset 0
 * (no newline). A record event carries a msgpack map (see record.h) at meta->rec_off;
 * records made by parsing a line keep the original line in front of the record, so a
 * sink can still write the raw bytes.
 *
 * Stages include only <sluice/...> headers; these include DPDK's header-only mbuf
 * accessors, never runtime symbols.
 */
#ifndef SLUICE_EVENT_H
#define SLUICE_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

/** What the bytes of an event are. */
enum sl_event_kind {
	SL_EVENT_LINE = 0,   /**< one text line at offset 0, raw_len bytes */
	SL_EVENT_RECORD = 1, /**< msgpack map at rec_off..data_len (line may precede it) */
	SL_EVENT_PACKET = 2, /**< a frame as received */
};

/** Event metadata, 24 bytes in an mbuf dynfield (leaves room for PMD timestamps). */
struct sl_meta {
	/** Source-defined stable position: files use (file slot << 48 | byte offset),
	 *  the generator and ports a sequence number. */
	uint64_t event_id;
	uint64_t ingest_tsc; /**< rte_rdtsc() when the source made the event */
	uint16_t source;     /**< index of the source in the pipeline */
	uint8_t kind;	     /**< enum sl_event_kind */
	uint8_t flags;	     /**< SL_META_F_* */
	uint16_t raw_len;    /**< bytes of the original line/frame at offset 0 */
	uint16_t rec_off;    /**< start of the msgpack record (kind == SL_EVENT_RECORD) */
};

#define SL_META_F_TRUNCATED 0x01 /**< the source cut the line to fit the event */
/** Bits 1-7 of flags belong to the runtime: the acknowledgement stamp of an event from a
 *  source with a checkpoint (epoch % 64 + 1; 0 = not tracked). A stage that copies an
 *  event copies flags whole (event_unshare does); a new event (event_alloc) has none. */
#define SL_META_F_ACK_SHIFT 1
#define SL_META_F_ACK_MASK  0xfe

#define SL_META_DYNFIELD_NAME "sluice_meta"

/** Metadata of an event; meta_offset comes from struct sl_ctx. */
static inline struct sl_meta *sl_event_meta(int meta_offset, struct rte_mbuf *ev)
{
	return RTE_MBUF_DYNFIELD(ev, meta_offset, struct sl_meta *);
}

/** The original bytes (line or frame). */
static inline const char *sl_event_raw(struct rte_mbuf *ev)
{
	return rte_pktmbuf_mtod(ev, const char *);
}

#endif
