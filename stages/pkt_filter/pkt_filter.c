/*
 * pkt_filter: passes the packet events whose headers satisfy the `where` expression
 * (pkt_expr.h, docs/packets.md) and drops the others as filtered. It reads the parse
 * result pkt_parse left in the mbuf (packet_type, l2_len, l3_len), re-checked against the
 * frame's length, so a packet that was not parsed never matches (counted as unparsed).
 * The expression is compiled once in init; process evaluates it per event with no
 * allocation. Built-in stage; events are only read, so shared events pass without a copy.
 */
#include <errno.h>
#include <stdio.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/stage.h>

#include "pkt_expr.h"

enum { PKT_FILTER_CNT_MATCHED = 0, PKT_FILTER_CNT_REJECTED, PKT_FILTER_CNT_UNPARSED };

static const char *const pkt_filter_counters[] = { "matched", "rejected", "unparsed", NULL };

static const struct sl_param_desc pkt_filter_params[] = {
	{ .name = "where",
	  .type = SL_PARAM_STR,
	  .required = true,
	  .help = "condition on headers, e.g. udp and dst_port == 514 (docs/packets.md)" },
	{ NULL },
};

static int pkt_filter_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			   struct sl_error *err)
{
	const struct sl_arg *where = sl_args_get(args, "where");
	struct sl_pkt_expr *e;
	uint32_t off = 0;
	int rc;

	if (!where || !where->str) {
		err->key = "where";
		snprintf(err->msg, sizeof(err->msg), "missing the required parameter 'where'");
		return -EINVAL;
	}
	rc = sl_pkt_expr_compile(where->str, &e, &off, err->msg, sizeof(err->msg));
	if (rc == -ENOMEM) {
		snprintf(err->msg, sizeof(err->msg), "out of memory compiling 'where'");
		return rc;
	}
	if (rc < 0) {
		err->key = "where";
		err->offset = off;
		return rc;
	}
	*conf = e;
	return 0;
}

static void pkt_filter_fini(void *conf)
{
	sl_pkt_expr_destroy(conf);
}

static void pkt_filter_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			       struct sl_emit *out)
{
	const struct sl_pkt_expr *e = conf;
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	if (n > 0)
		rte_prefetch0(rte_pktmbuf_mtod(evs[0], void *));
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_pkt_view v;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(evs[i + 1], void *));
		if (sl_ctx_meta(ctx, ev)->kind != SL_EVENT_PACKET || !sl_pkt_view(ev, &v)) {
			cnt[PKT_FILTER_CNT_UNPARSED]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
			continue;
		}
		if (sl_pkt_expr_eval(e, &v, ev->pkt_len)) {
			cnt[PKT_FILTER_CNT_MATCHED]++;
			sl_emit(out, 0, ev);
		} else {
			cnt[PKT_FILTER_CNT_REJECTED]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
		}
	}
}

const struct sl_stage_desc sl_stage_pkt_filter = {
	SL_STAGE_DESC_INIT,
	.name = "pkt_filter",
	.version = "1.0.0",
	.summary = "keep packets whose headers match a condition (protocol, ports, addresses)",
	.params = pkt_filter_params,
	.counters = pkt_filter_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = pkt_filter_init,
	.process = pkt_filter_process,
	.fini = pkt_filter_fini,
};
