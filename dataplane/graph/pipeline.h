/*
 * A running pipeline: the checked config instantiated into rings, source/sink instances,
 * stage replicas and worker task lists, run to completion on the EAL lcores, and
 * summarised. The control thread (main lcore) creates, runs and destroys it; the main
 * lcore also works as a worker between controller ticks. Requires an initialised EAL.
 */
#ifndef SL_GRAPH_PIPELINE_H
#define SL_GRAPH_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

struct sl_pipeline;

/** Build everything from a loaded config (loaded with keep_stage_conf). 0 or -errno;
 *  errors are logged with the node's file:line. The config must outlive the pipeline. */
int sl_pipeline_create(struct sl_config *cfg, struct sl_pipeline **out);

/** Run until every node is done (finite sources delivered, sinks flushed) or a stop.
 *  Returns 0 after a clean end or a drained stop, -EINTR after a forced stop, -EIO when a
 *  sink's final flush failed (it could not write all it was given: the run exits 1). */
int sl_pipeline_run(struct sl_pipeline *p);

/** Ask to stop (async-signal-safe): the first call drains (sources stop, in-flight events
 *  are delivered); the second stops at once. */
void sl_pipeline_signal(int signo);

/** The per-node table: events in/out/dropped, events/s, cycles per event. */
void sl_pipeline_summary(const struct sl_pipeline *p, FILE *f);

/** Write counters as JSON (see docs/architecture.md). 0 or -errno. */
int sl_pipeline_write_stats_json(const struct sl_pipeline *p, const char *path);

/*
 * Live counters, for the control plane (stats, top, metrics). Safe to call from any
 * thread while the pipeline runs: every counter is a 64-bit word written by one lcore and
 * read here without locks, so a snapshot is per-counter exact but not a cut across
 * counters (an event may show as out of one node and not yet in the next).
 */
struct sl_node_stats {
	const char *name;
	const char *kind; /**< `type:` or `use:` */
	const char *role; /**< "source", "stage" or "sink" */
	uint32_t replicas;
	uint64_t in, out, generated; /**< events taken, passed on, produced (sources) */
	uint64_t dropped;	     /**< sum of drop[] except ring_full (charged upstream) */
	uint64_t in_flight, pending, queued; /**< held by the node, waiting to enqueue, in rings */
	uint64_t ring_capacity;		     /**< sum over the node's input rings; 0 for sources */
	uint64_t busy_cycles, calls;	     /**< TSC cycles inside the node's tasks, task runs */
	uint64_t fused_in; /**< of in: handed over by a fused producer's direct call (fuse.h) */
	uint64_t drop[SL_DROP_REASON_MAX]; /**< by enum sl_drop_reason */
	uint32_t n_counters;		   /**< stage-declared counters (names below) */
	const char *const *counter_names;
	uint64_t counters[SL_NODE_COUNTER_MAX];
	/** Stages and sinks (has_latency), from per-burst histograms since the start (25 %
	 *  resolution): microseconds inside one process/write call, and the age of events
	 *  (now - ingest time at the source) as the node takes them, p50 and p99. */
	bool has_latency;
	double call_p50_us, call_p99_us, age_p50_us, age_p99_us;
	/** Autoscaled stages (scale:; docs/scaling.md): replicas above is the number
	 *  running; the range, the pin (-1: auto), the last decision, cold starts (first
	 *  event after zero: its ingest time to the process call) and the reaction of the
	 *  last added replica (activation to its first burst). */
	bool scaled;
	uint32_t scale_min, scale_max, desired;
	int32_t pinned;
	uint64_t cold_starts;
	double cold_start_us_max, cold_start_us_avg, react_us_max;
	/** The last load step from zero: its first event's ingest time to the first burst of
	 *  a replica added after it (-1: none added since). */
	double step_react_us;
	/** Replicas x seconds they ran (autoscaled: integrated every tick; else replicas x
	 *  elapsed): the core-seconds the node held. */
	double replica_seconds;
};

uint32_t sl_pipeline_n_nodes(const struct sl_pipeline *p);
/** Counters of node i (0 <= i < sl_pipeline_n_nodes). */
void sl_pipeline_node_stats(const struct sl_pipeline *p, uint32_t i, struct sl_node_stats *s);
/** Seconds since the pipeline started running (frozen once it ended). */
double sl_pipeline_elapsed_s(const struct sl_pipeline *p);
/** TSC frequency the cycle counters are in. */
uint64_t sl_pipeline_tsc_hz(const struct sl_pipeline *p);
/** Name of a drop reason ("ring_full", ...), "" past the end. */
const char *sl_drop_reason_name(int reason);
/** The same JSON as sl_pipeline_write_stats_json, written to f. 0 or -EIO. */
int sl_pipeline_stats_json(const struct sl_pipeline *p, FILE *f);

/** `sluice scale`: pin node i (an autoscaled stage) to replicas running, or -1 to give
 *  it back to the autoscaler. Any thread. 0, or -ENOTSUP / -ERANGE with a sentence in err. */
int sl_pipeline_scale(struct sl_pipeline *p, uint32_t i, int32_t replicas, char *err, size_t len);

struct sl_tap;
/** Hook tap on the outputs of every replica of node i, or unhook with NULL (control
 *  thread; see edge/tap.h). -EINVAL for a sink, which has no outputs. */
int sl_pipeline_tap(struct sl_pipeline *p, uint32_t i, struct sl_tap *tap);
/** The event metadata dynfield offset (for sl_tap_create). */
int sl_pipeline_meta_offset(const struct sl_pipeline *p);

/**
 * Replace the implementation of stage node i live (control thread; `sluice swap`,
 * `sluice reload`): each replica's next process call uses desc/conf (already initialised
 * by the caller, same outputs and counters); returns once no replica is inside a call
 * that may still use the previous one, waiting at most timeout_ms (then -ETIMEDOUT: the
 * previous implementation may still run and must stay loaded). The previous conf is the
 * caller's to fini after 0. -ENOTSUP for a node that is not a stage or keeps window
 * state, -EINVAL for a bad index.
 */
int sl_pipeline_stage_replace(struct sl_pipeline *p, uint32_t i, const struct sl_stage_desc *d,
			      void *conf, unsigned timeout_ms);

/** Heartbeat: replica slots of stage node i (0 for other nodes), and replica k's call
 *  sequence, odd while it is inside a process call (any thread). A value that stays odd
 *  and unchanged is a stage stuck in one call. */
uint32_t sl_pipeline_replica_slots(const struct sl_pipeline *p, uint32_t i);
uint64_t sl_pipeline_call_seq(const struct sl_pipeline *p, uint32_t i, uint32_t k);

void sl_pipeline_destroy(struct sl_pipeline *p);

#endif
