/*
 * The `metrics` sink's side of the Prometheus endpoint (metrics.c): the control's
 * /metrics handler appends every metrics sink's series after the runtime's counters.
 */
#ifndef SL_SINK_METRICS_H
#define SL_SINK_METRICS_H

#include <stdio.h>

/** Write the series of every live metrics sink in text format 0.0.4 (any thread). */
void sl_metrics_sinks_render(FILE *f);

#endif
