/*
 * Source kinds (`type:` under `sources:`). A source turns the outside world into events:
 * it fills mbufs from the runtime's mempool, sets their metadata, and hands them to the
 * worker task that polls it; the task enqueues them to the consumers and holds what does
 * not fit (backpressure: while held, poll is not called). One lcore polls a source at a
 * time. The table of kinds is in source.c.
 */
#ifndef SL_SOURCE_H
#define SL_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include <sluice/stage.h>

/** What the runtime gives a source or sink when it is created. */
struct sl_io_env {
	struct rte_mempool *pool;
	int meta_offset;
	uint16_t node_id; /**< source: written to meta->source */
	const char *name; /**< node name in the pipeline */
	const char *file; /**< pipeline file, for messages */
	uint64_t tsc_hz;
	uint16_t replica;    /**< which replica this instance is (sources: which share) */
	uint16_t n_replicas; /**< replicas of the node; a source splits its input this many ways */
};

/** The source can split its input between replicas (env.replica of env.n_replicas). */
#define SL_SOURCE_F_REPLICAS 0x1

/** Epochs a checkpointed source may have open (not yet committed) at once; event stamps
 *  and the runtime's counters are indexed by epoch % SL_ACK_EPOCHS. */
#define SL_ACK_EPOCHS 64

/**
 * End-to-end acknowledgement state of a source with a checkpoint (docs/architecture.md,
 * Delivery). The source stamps every event with its current epoch (sl_ack_stamp) and, at
 * every checkpoint interval, records where it stands (the position after the last event
 * it emitted) for the epoch it closes, then opens the next one. The controller commits an
 * epoch once every event stamped with it or an older one was acknowledged by every sink.
 */
struct sl_source_ack {
	/** Epochs opened; the current one is opened - 1. Written by the source's lcore
	 *  (release, after the position of the epoch it closed is recorded); read by the
	 *  controller (acquire). */
	uint64_t opened;
	/** Epochs committed (their positions persisted). Written by the controller (release,
	 *  after the commit), read by the source (acquire) before it reuses a slot. */
	uint64_t committed;
};

/** The stamp of epoch e in meta->flags (SL_META_F_ACK_MASK bits). */
static inline uint8_t sl_ack_stamp(uint64_t e)
{
	return (uint8_t)((e % SL_ACK_EPOCHS + 1) << SL_META_F_ACK_SHIFT);
}

struct sl_source_ops {
	const char *type;
	const char *summary;
	uint32_t flags; /**< SL_SOURCE_F_* */
	/** SL_FACT_* that hold for every event poll returns (stage.h: burst facts). */
	uint16_t facts;
	const struct sl_param_desc *params; /**< ends with { NULL } */
	/** Open resources. 0 or -errno with err set (err->key names the parameter). */
	int (*create)(const struct sl_args *args, const struct sl_io_env *env, void **self,
		      struct sl_error *err);
	/** Optional: check parameters at load time without opening anything (validate).
	 *  0 or -errno with err set, as create. */
	int (*check)(const struct sl_args *args, struct sl_error *err);
	/** Produce up to max events into ev. Set *done when nothing more will ever come
	 *  (finite sources); events returned with done still count. */
	uint16_t (*poll)(void *self, struct rte_mbuf **ev, uint16_t max, bool *done);
	/** Stop early (SIGINT): the next poll must return done. */
	void (*stop)(void *self);
	/** Optional: whether this configuration can split its input between replicas
	 *  (with SL_SOURCE_F_REPLICAS set). NULL: the flag alone decides. A file source
	 *  that follows or reads globs cannot; reading one path once, it can. */
	bool (*can_split)(const struct sl_args *args);
	/** Optional: the acknowledgement state when this instance keeps a checkpoint
	 *  (`checkpoint:`), else NULL. Control thread, after create. */
	struct sl_source_ack *(*ack)(void *self);
	/** Optional, with ack: everything emitted in epochs up to and including epoch was
	 *  acknowledged; persist the position recorded when it closed. Controller (main
	 *  lcore) only, never concurrently with itself; the source's lcore keeps polling.
	 *  0 or -errno (the source logs why). */
	int (*commit)(void *self, uint64_t epoch);
	/** Print source-specific totals ("lines=... bytes=... truncated=...") into buf. */
	void (*summary_line)(void *self, char *buf, size_t len);
	void (*destroy)(void *self);
};

/** Find a source kind; NULL when unknown. */
const struct sl_source_ops *sl_source_find(const char *type);
/** i-th source kind, NULL past the end. */
const struct sl_source_ops *sl_source_at(uint32_t i);

extern const struct sl_source_ops sl_source_file;
extern const struct sl_source_ops sl_source_gen;
extern const struct sl_source_ops sl_source_dpdk;
extern const struct sl_source_ops sl_source_pktgen;

/** Longest line a source puts in one event of pool: half the data room, so the record a
 *  stage parses from it (about the line's size again, plus keys) fits behind it (an 8192-byte
 *  room holds 4096-byte lines); 0 when too small. */
uint32_t sl_source_line_room(struct rte_mempool *pool);

struct io_uring;

/** Set up an io_uring for a file source or sink (control path). Returns false when the
 *  caller must use pread/pwrite instead: io_uring is unavailable (ENOSYS, EPERM from
 *  kernel.io_uring_disabled or seccomp) or the environment sets SLUICE_NO_URING=1. The
 *  first fallback in a process logs one warning, tagged comp. */
bool sl_io_uring_init(struct io_uring *ring, unsigned entries, const char *comp);

#endif
