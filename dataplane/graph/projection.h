/*
 * Projection: which record fields a stage's output may still be read by. A stage that
 * declares the fields it writes (sl_stage_desc.writes) gets a mask in sl_ctx.fields_mask
 * with bit i set when some consumer downstream may read writes[i]; it may skip the others
 * (nginx_parse writes only `status` when a filter on status and a count by status are its
 * only readers). The answer is conservative: a consumer that cannot say what it reads
 * (a plugin built for ABI 1.0, a stage without a reads hook, a sink that writes records)
 * counts as reading every field. Control path only; works on the loaded config.
 *
 * Who reads field f of node n's output, over every consumer c of any of n's outputs:
 *   - a sink reads it unless it writes raw lines only (`format: raw`) or nothing (`null`);
 *   - a stage reads it when its reads hook lists f, or has no hook; a stage flagged
 *     SL_STAGE_F_FORWARDS passes its input events on, so it also reads f when any of its
 *     own consumers does.
 */
#ifndef SL_GRAPH_PROJECTION_H
#define SL_GRAPH_PROJECTION_H

#include <stdint.h>

#include "config/config.h"

/** fields_mask for node i of a loaded config (with stage confs kept): bits of its stage's
 *  writes that may be read downstream; all ones when it is not a stage or declares none. */
uint64_t sl_projection_mask(const struct sl_config *cfg, uint32_t i);

#endif
