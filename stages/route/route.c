/*
 * route: sends each event to the named outputs whose condition its record satisfies, as
 * Vector's route transform does. `routes: {name: "condition", ...}` makes one output per
 * entry (after `_unmatched`, port 0, which takes the events no route matched); `mode:
 * first` (default) sends an event to the first route that matches, in the order written,
 * `mode: all` to every route that matches. Conditions are the shared expressions
 * (stages/expr, docs/expressions.md), compiled once in init; process evaluates them per
 * event with no allocation. Events are never modified: in `all` mode an event that goes to
 * several routes is one mbuf with its reference count raised, counted in `copies`.
 * Built-in stage; uses only the SDK.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "../expr/expr.h"

/* Port 0 is _unmatched; routes follow in the order written. */
#define ROUTE_MAX (SL_PORT_MAX - 1)

enum { ROUTE_CNT_ROUTED = 0, ROUTE_CNT_UNMATCHED, ROUTE_CNT_COPIES, ROUTE_CNT_NO_RECORD };

static const char *const route_counters[] = { "routed", "unmatched", "copies", "no_record", NULL };
static const char *const route_outputs[] = { "_unmatched", NULL };

static const struct sl_param_desc route_params[] = {
	{ .name = "routes",
	  .type = SL_PARAM_MAP,
	  .required = true,
	  .help = "name: condition, one output per entry (e.g. errors: \"status >= 500\")" },
	{ .name = "mode",
	  .type = SL_PARAM_STR,
	  .def = "first",
	  .help = "first: the first route that matches; all: every route that matches" },
	{ NULL },
};

struct route_conf {
	uint32_t n;
	bool all;
	struct sl_expr *cond[ROUTE_MAX];
	const char **fields; /* every condition's fields, NULL-terminated (projection) */
};

static void route_fini(void *conf)
{
	struct route_conf *c = conf;

	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		sl_expr_destroy(c->cond[i]);
	free(c->fields);
	free(c);
}

static int route_fail(struct sl_error *err, const char *key, uint32_t item, uint32_t off,
		      const char *msg)
{
	err->key = key;
	err->item = item;
	err->offset = off;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return -EINVAL;
}

static int route_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		      struct sl_error *err)
{
	const struct sl_arg *routes = sl_args_get(args, "routes");
	const struct sl_arg *mode = sl_args_get(args, "mode");
	struct route_conf *c;
	int rc;

	if (!routes || routes->n_list < 2)
		return route_fail(err, "routes", 0, 0, "give at least one route: name: condition");
	if (routes->n_list / 2 > ROUTE_MAX) {
		snprintf(err->msg, sizeof(err->msg), "at most %d routes", ROUTE_MAX);
		err->key = "routes";
		err->item = 0;
		err->offset = 0;
		return -EINVAL;
	}
	if (mode && mode->str && strcmp(mode->str, "first") != 0 && strcmp(mode->str, "all") != 0)
		return route_fail(err, "mode", 0, 0, "expected first or all");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->all = mode && mode->str && strcmp(mode->str, "all") == 0;
	for (uint32_t i = 0; i < routes->n_list / 2; i++) {
		uint32_t off = 0;
		char msg[sizeof(err->msg)];
		enum sl_expr_kind k;

		rc = sl_expr_compile(routes->list[2 * i + 1], RTE_MAX_LCORE, &c->cond[i], &off, msg,
				     sizeof(msg));
		if (rc == -ENOMEM) {
			route_fini(c);
			return rc;
		}
		if (rc < 0) {
			route_fini(c);
			return route_fail(err, "routes", i + 1, off, msg);
		}
		c->n = i + 1;
		k = sl_expr_result_kind(c->cond[i]);
		if (k != SL_EXPR_KIND_BOOL && k != SL_EXPR_KIND_ANY) {
			snprintf(msg, sizeof(msg), "the condition of '%s' is %s, not true/false",
				 routes->list[2 * i], sl_expr_kind_name(k));
			route_fini(c);
			return route_fail(err, "routes", i + 1, 0, msg);
		}
	}
	c->fields = sl_expr_fields_union(c->cond, c->n);
	rc = c->fields ? 0 : -ENOMEM;
	if (rc < 0) {
		route_fini(c);
		return rc;
	}
	*conf = c;
	return 0;
}

static void route_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			  struct sl_emit *out)
{
	const struct route_conf *c = conf;
	uint64_t *cnt = ctx->counters;
	unsigned lcore = ctx->lcore;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_rec rec;
		uint16_t hit[ROUTE_MAX];
		uint32_t n_hit = 0;

		if (i + 1 < in->n) {
			struct rte_mbuf *nx = in->ev[i + 1];
			rte_prefetch0(
				rte_pktmbuf_mtod_offset(nx, char *, sl_ctx_meta(ctx, nx)->rec_off));
		}
		rec = sl_event_record(ctx, ev);
		if (rec.len == 0)
			cnt[ROUTE_CNT_NO_RECORD]++;
		for (uint32_t r = 0; r < c->n; r++) {
			if (!sl_expr_test(c->cond[r], rec, lcore))
				continue;
			hit[n_hit++] = (uint16_t)(r + 1);
			if (!c->all)
				break;
		}
		if (n_hit == 0) {
			cnt[ROUTE_CNT_UNMATCHED]++;
			sl_emit(out, 0, ev);
			continue;
		}
		cnt[ROUTE_CNT_ROUTED]++;
		if (n_hit > 1) {
			/* One mbuf on several outputs: each output's consumers free one
			 * reference, as for a fan-out edge. */
			rte_mbuf_refcnt_update(ev, (int16_t)(n_hit - 1));
			cnt[ROUTE_CNT_COPIES] += n_hit - 1;
		}
		for (uint32_t k = 0; k < n_hit; k++)
			sl_emit(out, hit[k], ev);
	}
}

/* Projection: every condition's fields; routed events go on unchanged. */
static const char *const *route_reads(const void *conf)
{
	const struct route_conf *c = conf;

	return c->fields;
}

const struct sl_stage_desc sl_stage_route = {
	SL_STAGE_DESC_INIT,
	.name = "route",
	.version = "1.0.0",
	.summary = "send events to named outputs by conditions on their records",
	.params = route_params,
	.outputs = route_outputs,
	.counters = route_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = route_init,
	.process = route_process,
	.fini = route_fini,
	.reads = route_reads,
	.outputs_from = "routes",
};
