/*
 * A running pipeline: the checked config instantiated into rings, source/sink instances,
 * stage replicas and worker task lists, run to completion on the EAL lcores, and
 * summarised. The control thread (main lcore) creates, runs and destroys it; the main
 * lcore also works as a worker between controller ticks. Requires an initialised EAL.
 */
#ifndef SL_GRAPH_PIPELINE_H
#define SL_GRAPH_PIPELINE_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"

struct sl_pipeline;

/** Build everything from a loaded config (loaded with keep_stage_conf). 0 or -errno;
 *  errors are logged with the node's file:line. The config must outlive the pipeline. */
int sl_pipeline_create(struct sl_config *cfg, struct sl_pipeline **out);

/** Run until every node is done (finite sources delivered, sinks flushed) or a stop.
 *  Returns 0 after a clean end or a drained stop, -EINTR after a forced stop. */
int sl_pipeline_run(struct sl_pipeline *p);

/** Ask to stop (async-signal-safe): the first call drains (sources stop, in-flight events
 *  are delivered); the second stops at once. */
void sl_pipeline_signal(int signo);

/** The per-node table: events in/out/dropped, events/s, cycles per event. */
void sl_pipeline_summary(const struct sl_pipeline *p, FILE *f);

/** Write counters as JSON (see docs/architecture.md). 0 or -errno. */
int sl_pipeline_write_stats_json(const struct sl_pipeline *p, const char *path);

void sl_pipeline_destroy(struct sl_pipeline *p);

#endif
