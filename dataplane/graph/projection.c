/*
 * Projection masks (see projection.h): one memoised walk over the consumers per field.
 */
#include "projection.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

#include "sink/sink.h"

enum { PROJ_UNKNOWN = 0, PROJ_BUSY, PROJ_NO, PROJ_YES };

/* The sink writes record fields (anything but raw lines, or nothing at all). */
static bool sink_reads_record(const struct sl_config_node *c)
{
	const struct sl_arg *fmt = sl_args_get(&c->args, "format");

	if (strcmp(c->kind, "null") == 0)
		return false;
	return !(fmt && fmt->str && sl_sink_format_parse(fmt->str) == SL_FORMAT_RAW);
}

static bool list_has(const char *const *list, const char *f)
{
	for (; *list; list++)
		if (strcmp(*list, f) == 0)
			return true;
	return false;
}

static bool node_reads(const struct sl_config *cfg, uint32_t c, const char *f, uint8_t *memo);

/* Some consumer of node n's outputs may read field f. */
static bool output_read(const struct sl_config *cfg, uint32_t n, const char *f, uint8_t *memo)
{
	for (uint32_t c = 0; c < cfg->n_nodes; c++)
		for (uint32_t k = 0; k < cfg->nodes[c].n_inputs; k++)
			if (cfg->nodes[c].inputs[k].node == n && node_reads(cfg, c, f, memo))
				return true;
	return false;
}

static bool node_reads(const struct sl_config *cfg, uint32_t c, const char *f, uint8_t *memo)
{
	const struct sl_config_node *cn = &cfg->nodes[c];
	const struct sl_stage_desc *d = cn->stage;
	const char *const *reads;
	bool yes;

	if (cn->role == SL_NODE_SINK)
		return sink_reads_record(cn);
	if (cn->role != SL_NODE_STAGE)
		return true;
	if (memo[c] == PROJ_YES || memo[c] == PROJ_BUSY) /* a cycle cannot load; be safe */
		return true;
	if (memo[c] == PROJ_NO)
		return false;
	reads = d->reads ? d->reads(cn->stage_conf) : NULL;
	/* ordered_by's field is read by the runtime, to pick the replica (docs/scaling.md). */
	if (!reads || list_has(reads, f) || (cn->ordered_by && strcmp(cn->ordered_by, f) == 0)) {
		yes = true;
	} else if (d->flags & SL_STAGE_F_FORWARDS) {
		memo[c] = PROJ_BUSY;
		yes = output_read(cfg, c, f, memo);
	} else {
		yes = false;
	}
	memo[c] = yes ? PROJ_YES : PROJ_NO;
	return yes;
}

uint64_t sl_projection_mask(const struct sl_config *cfg, uint32_t i)
{
	const struct sl_config_node *n = &cfg->nodes[i];
	uint64_t mask = 0;
	uint8_t *memo;

	if (n->role != SL_NODE_STAGE || !n->stage->writes || !n->stage_conf)
		return ~0ull;
	memo = calloc(cfg->n_nodes, 1);
	if (!memo)
		return ~0ull;
	for (uint32_t b = 0; b < SL_WRITES_MAX && n->stage->writes[b]; b++) {
		memset(memo, PROJ_UNKNOWN, cfg->n_nodes);
		if (output_read(cfg, i, n->stage->writes[b], memo))
			mask |= 1ull << b;
	}
	free(memo);
	return mask;
}
