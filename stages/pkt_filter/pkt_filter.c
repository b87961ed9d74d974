/*
 * pkt_filter: passes the packet events whose headers satisfy the `where` expression
 * (pkt_expr.h, docs/packets.md) and drops the others as filtered. It reads the parse
 * result pkt_parse left in the mbuf (packet_type, l2_len, l3_len), re-checked against the
 * frame's length, so a packet that was not parsed never matches (counted as unparsed).
 * The expression is compiled once in init; process evaluates its compiled form on a key
 * built from each mbuf (pkt_expr.h), or the expression itself when it compares with < or >,
 * with no allocation. Built-in stage; events are only read, so shared events pass without a copy.
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

/* The general evaluator: a view of each packet and a walk of the expression. */
static void pkt_filter_tree(const struct sl_pkt_expr *e, struct sl_ctx *ctx, struct sl_burst *in,
			    struct sl_emit *out)
{
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

/*
 * The frames whose key is all zeros: parsed, untagged Ethernet without IP (ARP and the
 * like), whose L2 length fits the frame. Their verdict is the same for every one of them,
 * worked out once per call (plain_verdict), so they cost a few loads and no key. Exactly
 * the frames for which sl_pkt_key succeeds with word 0 zero and reads nothing else of
 * the frame. vouched: the burst's facts say every event is a packet pkt_parse parsed, so
 * only its type is left to test.
 */
static __rte_always_inline bool pkt_filter_plain(struct rte_mbuf *m, int meta_offset, bool vouched)
{
	uint32_t l2;

	if (vouched)
		return (m->packet_type & (RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK)) ==
		       RTE_PTYPE_L2_ETHER;
	l2 = (uint32_t)m->tx_offload & ((1u << RTE_MBUF_L2_LEN_BITS) - 1);
	return sl_event_meta(meta_offset, m)->kind == SL_EVENT_PACKET &&
	       (m->packet_type & (RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK)) == RTE_PTYPE_L2_ETHER &&
	       l2 >= 14 && l2 <= m->data_len;
}

/* The verdict on the all-zero key of pkt_filter_plain's frames: 1 pass, 0 reject; -1 when
 * the program reads the frame length (not part of that key). Words past the first are
 * never read for a frame without IP (sl_pkt_key leaves them unset). */
static int pkt_filter_plain_verdict(const struct sl_pkt_kprog *kp)
{
	const struct sl_pkt_key zero = { { 0 } };

	if (kp->need & SL_PKT_KEY_NEED_LEN)
		return -1;
	return sl_pkt_kprog_eval(kp, &zero);
}

/* One event of pkt_filter_one: passed (appended at pass, returned one further) or dropped. */
static __rte_always_inline struct rte_mbuf **
pkt_filter_ev(const struct sl_pkt_kprog *kp, const struct sl_pkt_ktest t, bool on_hit,
	      int meta_offset, struct rte_mbuf *ev, struct sl_emit *out, struct rte_mbuf **pass,
	      bool word0, int plain, bool vouched, uint32_t *n_unparsed, uint32_t *n_rejected)
{
	struct sl_pkt_key key;

	if (plain >= 0 && likely(pkt_filter_plain(ev, meta_offset, vouched))) {
		if (plain) {
			*pass++ = ev;
		} else {
			(*n_rejected)++;
			sl_drop(out, ev, SL_DROP_FILTERED);
		}
		return pass;
	}
	/* word0 reads the first word only: no other word to fill in. */
	if (unlikely((!vouched && sl_event_meta(meta_offset, ev)->kind != SL_EVENT_PACKET) ||
		     !sl_pkt_key(ev, word0 ? 0 : kp->need, &key))) {
		(*n_unparsed)++;
		sl_drop(out, ev, SL_DROP_FILTERED);
		return pass;
	}
	if (likely(((key.w[word0 ? 0 : t.word] & t.mask) == t.value) == on_hit)) {
		*pass++ = ev;
	} else {
		(*n_rejected)++;
		sl_drop(out, ev, SL_DROP_FILTERED);
	}
	return pass;
}

/* A compiled form of one test; word0: it reads the key's first word (compiled twice, so
 * that this word stays in a register); vouched: as in pkt_filter_plain. Returns the new
 * count of the default output. */
static __rte_always_inline uint32_t pkt_filter_one(const struct sl_pkt_kprog *kp, int meta_offset,
						   const struct sl_burst *in, struct sl_emit *out,
						   uint32_t k, bool word0, int plain, bool vouched,
						   uint32_t *n_unparsed, uint32_t *n_rejected)
{
	const struct sl_pkt_ktest t = kp->t[kp->start];
	const bool on_hit = t.next[1] == SL_PKT_KPROG_ACCEPT;
	struct rte_mbuf **evs = in->ev, **pass = out->port[0] + k;
	const uint32_t n = in->n;
	uint32_t i = 0;

	/* Locals throughout: the stores into the lists cannot make the compiler reload them. */
	if (vouched && plain >= 0) {
		/* Four frames at a time: all four plain is one test, since a parsed frame's L2
		 * type is never 0 and any other type or an L3 type sets a bit beside
		 * RTE_PTYPE_L2_ETHER in the OR of their types. */
		const uint32_t mask = RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK;

		for (; i + 4 <= n; i += 4) {
			struct rte_mbuf *a = evs[i], *b = evs[i + 1], *c = evs[i + 2],
					*d = evs[i + 3];

			if (likely(((a->packet_type | b->packet_type | c->packet_type |
				     d->packet_type) &
				    mask) == RTE_PTYPE_L2_ETHER)) {
				if (plain) {
					pass[0] = a, pass[1] = b, pass[2] = c, pass[3] = d;
					pass += 4;
				} else {
					*n_rejected += 4;
					for (uint32_t j = i; j < i + 4; j++)
						sl_drop(out, evs[j], SL_DROP_FILTERED);
				}
				continue;
			}
			for (uint32_t j = i; j < i + 4; j++)
				pass = pkt_filter_ev(kp, t, on_hit, meta_offset, evs[j], out, pass,
						     word0, plain, vouched, n_unparsed, n_rejected);
		}
	}
	for (; i < n; i++)
		pass = pkt_filter_ev(kp, t, on_hit, meta_offset, evs[i], out, pass, word0, plain,
				     vouched, n_unparsed, n_rejected);
	return (uint32_t)(pass - out->port[0]);
}

/* pkt_filter_one with its plain verdict a constant (one loop each, no test per event). */
static __rte_always_inline uint32_t pkt_filter_one_by(const struct sl_pkt_kprog *kp,
						      int meta_offset, const struct sl_burst *in,
						      struct sl_emit *out, uint32_t k, bool word0,
						      int plain, bool vouched, uint32_t *n_unparsed,
						      uint32_t *n_rejected)
{
	if (plain < 0)
		return pkt_filter_one(kp, meta_offset, in, out, k, word0, -1, vouched, n_unparsed,
				      n_rejected);
	if (plain)
		return pkt_filter_one(kp, meta_offset, in, out, k, word0, 1, vouched, n_unparsed,
				      n_rejected);
	return pkt_filter_one(kp, meta_offset, in, out, k, word0, 0, vouched, n_unparsed,
			      n_rejected);
}

/* pkt_filter_one_by with vouched a constant. */
static __rte_always_inline uint32_t pkt_filter_one_of(const struct sl_pkt_kprog *kp,
						      int meta_offset, const struct sl_burst *in,
						      struct sl_emit *out, uint32_t k, bool word0,
						      int plain, bool vouched, uint32_t *n_unparsed,
						      uint32_t *n_rejected)
{
	if (vouched)
		return pkt_filter_one_by(kp, meta_offset, in, out, k, word0, plain, true,
					 n_unparsed, n_rejected);
	return pkt_filter_one_by(kp, meta_offset, in, out, k, word0, plain, false, n_unparsed,
				 n_rejected);
}

static void pkt_filter_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			       struct sl_emit *out)
{
	const struct sl_pkt_expr *e = conf;
	const struct sl_pkt_kprog *kp = sl_pkt_expr_kprog(e);
	struct rte_mbuf **evs = in->ev, **pass;
	uint32_t n = in->n, k, n_unparsed = 0, n_rejected = 0;
	int meta_offset = ctx->meta_offset;
	const uint16_t vouch = SL_FACT_PACKETS | SL_FACT_PARSED;
	const bool vouched = (in->facts & vouch) == vouch;
	uint32_t need;
	int plain;

	/* The compiled form, straight into the output list: a burst always fits it. */
	if (!kp || out->n_ports == 0 || out->n[0] + n > SL_EMIT_CAP) {
		pkt_filter_tree(e, ctx, in, out);
		if (out->n_ports)
			out->facts[0] = in->facts;
		return;
	}
	need = kp->need;
	plain = pkt_filter_plain_verdict(kp);
	pass = out->port[0];
	k = out->n[0];
	if (kp->start < kp->n && kp->t[kp->start].next[0] >= kp->n &&
	    kp->t[kp->start].next[1] >= kp->n) {
		/* One test decides (`udp and dst_port == 514`, `not (tcp and port == 22)`). */
		if (kp->t[kp->start].word == 0)
			k = pkt_filter_one_of(kp, meta_offset, in, out, k, true, plain, vouched,
					      &n_unparsed, &n_rejected);
		else
			k = pkt_filter_one_of(kp, meta_offset, in, out, k, false, plain, vouched,
					      &n_unparsed, &n_rejected);
	} else {
		for (uint32_t i = 0; i < n; i++) {
			struct rte_mbuf *ev = evs[i];
			struct sl_pkt_key key;
			bool v;

			if (plain >= 0 && likely(pkt_filter_plain(ev, meta_offset, false))) {
				v = plain;
			} else if (unlikely(sl_event_meta(meta_offset, ev)->kind !=
						    SL_EVENT_PACKET ||
					    !sl_pkt_key(ev, need, &key))) {
				n_unparsed++;
				sl_drop(out, ev, SL_DROP_FILTERED);
				continue;
			} else {
				v = sl_pkt_kprog_eval(kp, &key);
			}
			if (likely(v)) {
				pass[k++] = ev;
			} else {
				n_rejected++;
				sl_drop(out, ev, SL_DROP_FILTERED);
			}
		}
	}
	ctx->counters[PKT_FILTER_CNT_MATCHED] += k - out->n[0];
	ctx->counters[PKT_FILTER_CNT_REJECTED] += n_rejected;
	ctx->counters[PKT_FILTER_CNT_UNPARSED] += n_unparsed;
	out->n[0] = (uint16_t)k;
	/* What passes is some of the input, unchanged: whatever held for all of it holds. */
	out->facts[0] = in->facts;
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
