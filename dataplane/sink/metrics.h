/*
 * The `metrics` sink's side of the Prometheus endpoint (metrics.c): the control's
 * /metrics handler appends every metrics sink's series after the runtime's counters.
 */
#ifndef SL_SINK_METRICS_H
#define SL_SINK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <sluice/stage.h>

/** Write the series of every live metrics sink in text format 0.0.4 (any thread). */
void sl_metrics_sinks_render(FILE *f);

/** The metric prefix of a metrics sink with these arguments, named node in the pipeline:
 *  its `name:`, else the node's name made a metric name. Into buf (cap bytes). */
void sl_metrics_sink_prefix(const struct sl_args *args, const char *node, char *buf, size_t cap);

/** Whether prefix is the runtime's own ('sluice' or 'sluice_...'). */
bool sl_metrics_prefix_reserved(const char *prefix);

#endif
