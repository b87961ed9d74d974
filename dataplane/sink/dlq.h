/*
 * The dead-letter queue: the `dlq` sink (sink/dlq.c) stores every event it is given with
 * the stage, stage kind, version, plugin path, output, reason, time and event id, and the
 * event's raw bytes, one JSON line each (resilience/dlq_format.h); the `dlq` source
 * (source/dlq.c) reads such a file back as line events, so a pipeline can re-inject dead
 * letters into any stage. docs/resilience.md.
 */
#ifndef SL_SINK_DLQ_H
#define SL_SINK_DLQ_H

#include "config/config.h"
#include "sink.h"

struct sl_registry;

extern const struct sl_sink_ops sl_sink_dlq;
extern const struct sl_source_ops sl_source_dlq;

/* Tell the dlq sinks created from now on which pipeline they belong to, so each can name
 * the stage feeding it (its input), that stage's kind, version and plugin, and the source
 * of every event. Control thread, before sl_pipeline_create; cfg and reg must outlive the
 * sinks. Without it the sink writes those keys as null. */
void sl_dlq_bind(const struct sl_config *cfg, const struct sl_registry *reg);

#endif
