/*
 * pkt_parse: parses each packet event's headers (pkt.h: Ethernet, VLAN/QinQ, IPv4/IPv6,
 * UDP/TCP/ICMP) and stores the result in the mbuf's own fields (packet_type, l2_len,
 * l3_len, l4_len), where pkt_filter, udp_payload and flow_count read it. Well-formed
 * frames leave on the default output, malformed ones on `errors` (unchanged apart from a
 * cleared packet_type), each counted by the reason the parser gives; non-packet events are
 * dropped as invalid. Frames are read only up to the event's data length. Built-in stage,
 * stateless; an event shared with another consumer is copied before its mbuf is written.
 */
#include <errno.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/stage.h>

#include "pkt.h"

/* Counter i for i in 1..SL_PKT_ERR_MAX-1 is the error of that code; 0 counts good frames,
 * and the last two count fragments and frames without IP. */
enum { PKT_CNT_PARSED = 0, PKT_CNT_FRAGMENTS = SL_PKT_ERR_MAX, PKT_CNT_NON_IP };

static const char *const pkt_parse_counters[] = {
	"parsed",
	"runt",
	"vlan_truncated",
	"vlan_depth",
	"ip_version",
	"ip_truncated",
	"ipv4_ihl",
	"ipv4_total_len",
	"ipv6_payload_len",
	"ipv6_ext_truncated",
	"ipv6_ext_limit",
	"l4_truncated",
	"udp_len",
	"tcp_offset",
	"fragments",
	"non_ip",
	NULL,
};

_Static_assert(PKT_CNT_NON_IP + 1 <= SL_COUNTER_MAX, "pkt_parse counters fit the ABI");
_Static_assert(sizeof(pkt_parse_counters) / sizeof(pkt_parse_counters[0]) == PKT_CNT_NON_IP + 2,
	       "one counter name per error code");

static const char *const pkt_parse_outputs[] = { "default", "errors", NULL };

static const struct sl_param_desc pkt_parse_params[] = {
	{ NULL },
};

static int pkt_parse_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			  struct sl_error *err)
{
	*conf = NULL;
	return 0;
}

/*
 * The full parser for one packet event: a malformed frame goes to `errors`, counted by
 * reason, and NULL is returned (also when unsharing it failed: the host counts that); a
 * well-formed one gets its result stored, is counted and is returned for the default output.
 */
static inline struct rte_mbuf *pkt_parse_full(struct sl_ctx *ctx, struct rte_mbuf *ev,
					      struct sl_emit *out)
{
	uint64_t *cnt = ctx->counters;
	struct sl_pkt_info pi;
	enum sl_pkt_err rc = sl_pkt_parse(rte_pktmbuf_mtod(ev, const uint8_t *), ev->data_len, &pi);

	if (rte_mbuf_refcnt_read(ev) > 1) {
		ev = ctx->host->event_unshare(ctx, ev);
		if (!ev)
			return NULL;
	}
	if (rc != SL_PKT_OK) {
		ev->packet_type = 0;
		ev->tx_offload = 0;
		cnt[rc]++;
		sl_emit(out, 1, ev);
		return NULL;
	}
	sl_pkt_store(ev, &pi);
	cnt[PKT_CNT_PARSED]++;
	if (pi.fragment)
		cnt[PKT_CNT_FRAGMENTS]++;
	if (pi.proto == 0 && !(pi.ptype & RTE_PTYPE_L3_MASK))
		cnt[PKT_CNT_NON_IP]++;
	return ev;
}

/* One event at a time through sl_emit (an output list that could not take the burst). */
static void pkt_parse_each(struct sl_ctx *ctx, struct sl_burst *in, struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];

		if (sl_ctx_meta(ctx, ev)->kind != SL_EVENT_PACKET) {
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		ev = pkt_parse_full(ctx, ev, out);
		if (ev)
			sl_emit(out, 0, ev);
	}
}

/* How far ahead the frames' first lines are prefetched. */
#define PKT_PARSE_PREFETCH 4

/* What pkt_parse_process counts per call. */
struct pkt_parse_tally {
	uint32_t plain, fast, fast_non_ip;
};

/* One packet event of pkt_parse_process: a well-formed frame is appended at *good.
 * vouched: the burst's facts say every event is an unshared packet (no test of either). */
static __rte_always_inline void pkt_parse_one(struct sl_ctx *ctx, struct rte_mbuf *ev,
					      int meta_offset, struct sl_emit *out,
					      struct rte_mbuf ***good, struct pkt_parse_tally *t,
					      bool vouched)
{
	const uint8_t *p = rte_pktmbuf_mtod(ev, const uint8_t *);
	uint64_t txo;
	uint32_t ptype;
	bool ip;

	if (!vouched && unlikely(sl_event_meta(meta_offset, ev)->kind != SL_EVENT_PACKET)) {
		sl_drop(out, ev, SL_DROP_INVALID);
		return;
	}
	/* The commonest frame that is not IP, unshared (sl_pkt_plain): what sl_pkt_parse_fast
	 * gives it, with fewer tests. */
	if (likely(ev->data_len >= 14 && (vouched || rte_mbuf_refcnt_read(ev) == 1)) &&
	    likely(sl_pkt_plain_type_at(p + 12))) {
		ev->packet_type = RTE_PTYPE_L2_ETHER;
		ev->tx_offload = rte_mbuf_tx_offload(14, 0, 0, 0, 0, 0, 0);
		t->plain++;
		*(*good)++ = ev;
		return;
	}
	if (likely(sl_pkt_parse_fast(p, ev->data_len, &ptype, &txo, &ip))) {
		if (!vouched && unlikely(rte_mbuf_refcnt_read(ev) > 1)) {
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev)
				return; /* counted by the host as nombuf */
		}
		ev->packet_type = ptype;
		ev->tx_offload = txo;
		t->fast_non_ip += !ip;
		t->fast++;
		*(*good)++ = ev;
		return;
	}
	ev = pkt_parse_full(ctx, ev, out);
	if (ev)
		*(*good)++ = ev;
}

/* Where a frame's first line is, to prefetch: the start of a direct mbuf's data room
 * with the default headroom (one load, where rte_pktmbuf_mtod takes two; a frame that
 * starts elsewhere is only prefetched in vain). */
static __rte_always_inline void pkt_parse_prefetch(const struct rte_mbuf *m)
{
	rte_prefetch0((const char *)m->buf_addr + RTE_PKTMBUF_HEADROOM);
}

/* The burst's frames through pkt_parse_one into the list at *good. */
static __rte_always_inline void pkt_parse_burst(struct sl_ctx *ctx, struct rte_mbuf **evs,
						uint32_t n, struct sl_emit *out,
						struct rte_mbuf ***good, struct pkt_parse_tally *t,
						bool vouched)
{
	int meta_offset = ctx->meta_offset;
	uint32_t i = 0;

	for (uint32_t j = 0; j < n && j < PKT_PARSE_PREFETCH; j++)
		pkt_parse_prefetch(evs[j]);
	/* Two loops, so that only the tail tests whether there is a frame to prefetch. */
	for (; i + PKT_PARSE_PREFETCH < n; i++) {
		pkt_parse_prefetch(evs[i + PKT_PARSE_PREFETCH]);
		pkt_parse_one(ctx, evs[i], meta_offset, out, good, t, vouched);
	}
	for (; i < n; i++)
		pkt_parse_one(ctx, evs[i], meta_offset, out, good, t, vouched);
}

static void pkt_parse_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			      struct sl_emit *out)
{
	const uint16_t vouch = SL_FACT_PACKETS | SL_FACT_UNSHARED;
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **good;
	struct pkt_parse_tally t = { 0, 0, 0 };
	const uint32_t n = in->n;

	/* Well-formed frames go straight into the default output's list (a burst always
	 * fits it); the rest through sl_emit / sl_drop. */
	if (unlikely(out->n_ports == 0 || out->n[0] + n > SL_EMIT_CAP)) {
		pkt_parse_each(ctx, in, out);
		return;
	}
	good = out->port[0] + out->n[0];
	if ((in->facts & vouch) == vouch)
		pkt_parse_burst(ctx, in->ev, n, out, &good, &t, true);
	else
		pkt_parse_burst(ctx, in->ev, n, out, &good, &t, false);
	cnt[PKT_CNT_PARSED] += t.fast + t.plain;
	cnt[PKT_CNT_NON_IP] += t.fast_non_ip + t.plain;
	out->n[0] = (uint16_t)(good - out->port[0]);
	/* Every frame on the default output is a packet, parsed, and unshared (a shared one
	 * was copied before its fields were written). */
	out->facts[0] = SL_FACT_PACKETS | SL_FACT_UNSHARED | SL_FACT_PARSED;
}

const struct sl_stage_desc sl_stage_pkt_parse = {
	SL_STAGE_DESC_INIT,
	.name = "pkt_parse",
	.version = "1.0.0",
	.summary = "parse Ethernet/VLAN/IPv4/IPv6/UDP/TCP/ICMP headers; malformed frames to errors",
	.params = pkt_parse_params,
	.outputs = pkt_parse_outputs,
	.counters = pkt_parse_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = pkt_parse_init,
	.process = pkt_parse_process,
};
