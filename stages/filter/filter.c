/*
 * filter: passes the events whose record satisfies the `where` expression and drops the
 * others as filtered. The expression (the shared engine, stages/expr, docs/expressions.md)
 * is compiled once in init into an immutable program shared by every replica, with its
 * per-lcore blocks; process evaluates it per event with no allocation (a plain
 * `field OP integer` is one lookup and a range check, inline here). Built-in stage; uses
 * only the SDK. Events are only read, never modified, so shared (fanned-out) events pass
 * through without a copy.
 */
#include <errno.h>
#include <stdio.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "../expr/expr.h"

enum { FILTER_CNT_MATCHED = 0, FILTER_CNT_REJECTED, FILTER_CNT_NO_RECORD };

static const char *const filter_counters[] = { "matched", "rejected", "no_record", NULL };

static const struct sl_param_desc filter_params[] = {
	{ .name = "where",
	  .type = SL_PARAM_STR,
	  .required = true,
	  .help = "condition on record fields, e.g. status >= 500 and method == \"GET\"" },
	{ NULL },
};

static int filter_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		       struct sl_error *err)
{
	const struct sl_arg *where = sl_args_get(args, "where");
	struct sl_expr *e;
	uint32_t off = 0;
	int rc;

	if (!where || !where->str) {
		err->key = "where";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "missing the required parameter 'where'");
		return -EINVAL;
	}
	rc = sl_expr_compile(where->str, RTE_MAX_LCORE, &e, &off, err->msg, sizeof(err->msg));
	if (rc == -ENOMEM) {
		err->key = NULL;
		snprintf(err->msg, sizeof(err->msg), "out of memory compiling 'where'");
		return rc;
	}
	if (rc < 0) {
		err->key = "where";
		err->offset = off;
		return rc;
	}
	if (sl_expr_result_kind(e) != SL_EXPR_KIND_BOOL &&
	    sl_expr_result_kind(e) != SL_EXPR_KIND_ANY) {
		err->key = "where";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "the condition is %s, not true/false",
			 sl_expr_kind_name(sl_expr_result_kind(e)));
		sl_expr_destroy(e);
		return -EINVAL;
	}
	*conf = e;
	return 0;
}

static void filter_fini(void *conf)
{
	sl_expr_destroy(conf);
}

static void filter_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			   struct sl_emit *out)
{
	const struct sl_expr *e = conf;
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;
	unsigned lcore = ctx->lcore;

	for (uint16_t i = 0; i < n && i < 2; i++) {
		rte_prefetch0(evs[i]);
		rte_prefetch0((char *)evs[i] + RTE_CACHE_LINE_SIZE);
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_rec rec;

		/* Headers two ahead; the next record's first bytes one ahead. */
		if (i + 2 < n) {
			rte_prefetch0(evs[i + 2]);
			rte_prefetch0((char *)evs[i + 2] + RTE_CACHE_LINE_SIZE);
		}
		if (i + 1 < n) {
			struct rte_mbuf *nx = evs[i + 1];
			rte_prefetch0(
				rte_pktmbuf_mtod_offset(nx, char *, sl_ctx_meta(ctx, nx)->rec_off));
		}
		rec = sl_event_record(ctx, ev);
		if (rec.len == 0)
			cnt[FILTER_CNT_NO_RECORD]++;
		if (sl_expr_test(e, rec, lcore)) {
			cnt[FILTER_CNT_MATCHED]++;
			sl_emit(out, 0, ev);
		} else {
			cnt[FILTER_CNT_REJECTED]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
		}
	}
}

/* Projection: the fields of the condition; matching events go on unchanged. */
static const char *const *filter_reads(const void *conf)
{
	return sl_expr_fields(conf);
}

const struct sl_stage_desc sl_stage_filter = {
	SL_STAGE_DESC_INIT,	     .name = "filter",
	.version = "1.2.0",	     .summary = "keep events whose record matches a condition",
	.params = filter_params,     .outputs = NULL,
	.counters = filter_counters, .flags = SL_STAGE_F_FORWARDS,
	.init = filter_init,	     .process = filter_process,
	.fini = filter_fini,	     .reads = filter_reads,
};
