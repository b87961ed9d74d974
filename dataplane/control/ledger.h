/*
 * The usage ledger (docs/scaling.md, "Ledger"): with `ledger: PATH` in the pipeline file,
 * `sluice run` appends one JSON line per node every second and a final one at the end:
 * its events, busy TSC cycles inside its tasks, replicas and the time since the start.
 * `sluice cost PATH` reads it back as a bill. The writer is a plain thread sampling the
 * live counters (sl_pipeline_node_stats), never the data path.
 */
#ifndef SL_CONTROL_LEDGER_H
#define SL_CONTROL_LEDGER_H

#include <stdbool.h>

struct sl_pipeline;
struct sl_ledger;

/** Open path for appending and start sampling p every interval_s seconds. 0 or -errno
 *  (logged). */
int sl_ledger_start(const char *path, struct sl_pipeline *p, double interval_s,
		    struct sl_ledger **out);
/** Write the final sample, stop the thread, close the file. NULL is fine. */
void sl_ledger_stop(struct sl_ledger *l);

/** `sluice cost PATH [--price P] [--json]`: the last run in the ledger as a table (or one
 *  JSON object per node). Returns the exit status; errors name PATH:LINE. */
int sl_cost_cli(const char *path, double price_per_core_hour, bool json);

#define SL_COST_DEFAULT_PRICE 0.05 /* USD per core-hour, when --price is not given */

#endif
