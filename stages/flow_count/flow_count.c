/*
 * flow_count: per-flow packet and byte counters over a window, like stages/count for
 * packets. A flow is the 5-tuple (IP version, protocol, source and destination address,
 * source and destination port; ports 0 for protocols without them and for fragments) read
 * from pkt_parse's result in the mbuf. At window close the runtime merges the replicas'
 * tables and emit writes one record per flow, {"src_ip", "dst_ip", "src_port",
 * "dst_port", "proto", "packets", "bytes"}, in key order. Packets without IP (ARP, or not
 * parsed) are counted as non_ip and dropped as filtered; counted packets are consumed.
 *
 * The table is fixed-capacity open addressing (linear probing, at most half full) of
 * fixed-size keys, allocated when the runtime creates the state: process, merge and emit
 * never allocate. Flows beyond max_flows are counted as overflow. Built-in stage; uses
 * only the SDK. process, merge, emit and reset run on whichever thread the runtime
 * chooses, one at a time per state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "../pkt_parse/pkt.h"

enum {
	FLOW_CNT_COUNTED = 0,
	FLOW_CNT_NON_IP,
	FLOW_CNT_OVERFLOW,
	FLOW_CNT_EMIT_TOO_LARGE,
};

static const char *const flow_count_counters[] = {
	"counted", "non_ip", "flows_overflow", "emit_too_large", NULL,
};

#define FLOW_MAX_FLOWS (1u << 24)

static const struct sl_param_desc flow_count_params[] = {
	{ .name = "window",
	  .type = SL_PARAM_STR,
	  .def = "all",
	  .help = "\"all\" (one result when the input ends) or a duration like 10s or 250ms" },
	{ .name = "max_flows",
	  .type = SL_PARAM_INT,
	  .def = "65536",
	  .help = "most flows per window; packets of more flows are counted as overflow" },
	{ NULL },
};

struct flow_conf {
	uint64_t window_ns;
	uint32_t max_flows;
	uint32_t capacity; /* power of two, at least 2 * max_flows */
};

struct flow_key {
	uint8_t src[16], dst[16];
	uint16_t src_port, dst_port;
	uint8_t ip_ver, proto;
	uint8_t pad[2]; /* zero: keys compare with memcmp */
};

_Static_assert(sizeof(struct flow_key) == 40, "flow key has no hidden padding");

struct flow_slot {
	struct flow_key key;
	uint32_t hash;
	uint32_t used;
	uint64_t packets, bytes;
};

struct flow_state {
	uint32_t mask;
	uint32_t n_flows;
	uint64_t n_lost; /* packets merge could not place; reported by emit */
	struct flow_slot *slots;
	uint32_t *order; /* slot index of each flow; sorted by emit */
};

static int flow_count_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			   struct sl_error *err)
{
	const struct sl_arg *window = sl_args_get(args, "window");
	const struct sl_arg *max_flows = sl_args_get(args, "max_flows");
	struct flow_conf *c;
	uint64_t window_ns = 0;
	uint32_t cap = 1;

	if (window && window->str && sl_window_parse(window->str, &window_ns) < 0) {
		err->key = "window";
		snprintf(err->msg, sizeof(err->msg),
			 "bad window '%s': expected \"all\" or a duration like 10s, 250ms",
			 window->str);
		return -EINVAL;
	}
	if (max_flows && (max_flows->i < 1 || max_flows->i > FLOW_MAX_FLOWS)) {
		err->key = "max_flows";
		snprintf(err->msg, sizeof(err->msg), "must be between 1 and %u", FLOW_MAX_FLOWS);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->window_ns = window_ns;
	c->max_flows = max_flows ? (uint32_t)max_flows->i : 65536;
	while (cap < 2 * c->max_flows)
		cap <<= 1;
	c->capacity = cap;
	*conf = c;
	return 0;
}

static void flow_count_fini(void *conf)
{
	free(conf);
}

static inline uint32_t flow_hash(const struct flow_key *k)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = 0, x;

	for (size_t i = 0; i < sizeof(*k); i += 8) {
		memcpy(&x, (const uint8_t *)k + i, 8);
		h = (h ^ x) * m;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

/* Add to the flow of k; false when the table is full. */
static bool flow_add(struct flow_state *st, const struct flow_conf *c, const struct flow_key *k,
		     uint32_t hash, uint64_t packets, uint64_t bytes)
{
	uint32_t idx = hash & st->mask;
	struct flow_slot *s;

	for (;;) {
		s = &st->slots[idx];
		if (!s->used)
			break;
		if (s->hash == hash && memcmp(&s->key, k, sizeof(*k)) == 0) {
			s->packets += packets;
			s->bytes += bytes;
			return true;
		}
		idx = (idx + 1) & st->mask;
	}
	if (st->n_flows >= c->max_flows)
		return false;
	s->key = *k;
	s->hash = hash;
	s->used = 1;
	s->packets = packets;
	s->bytes = bytes;
	st->order[st->n_flows++] = idx;
	return true;
}

static void flow_count_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			       struct sl_emit *out)
{
	const struct flow_conf *c = conf;
	struct flow_state *st = ctx->state;
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_pkt_view v;
		struct flow_key k;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(evs[i + 1], void *));
		if (!st) {
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		if (sl_ctx_meta(ctx, ev)->kind != SL_EVENT_PACKET || !sl_pkt_view(ev, &v) ||
		    !v.ip_ver) {
			cnt[FLOW_CNT_NON_IP]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
			continue;
		}
		memset(&k, 0, sizeof(k));
		k.ip_ver = v.ip_ver;
		k.proto = v.proto;
		memcpy(k.src, v.src_ip, v.ip_ver == 4 ? 4 : 16);
		memcpy(k.dst, v.dst_ip, v.ip_ver == 4 ? 4 : 16);
		if (v.has_ports) {
			k.src_port = v.src_port;
			k.dst_port = v.dst_port;
		}
		if (flow_add(st, c, &k, flow_hash(&k), 1, ev->pkt_len))
			cnt[FLOW_CNT_COUNTED]++;
		else
			cnt[FLOW_CNT_OVERFLOW]++;
		sl_drop(out, ev, SL_DROP_CONSUMED);
	}
}

/* ---- state ops ---- */

static void *flow_state_create(const void *conf)
{
	const struct flow_conf *c = conf;
	struct flow_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->mask = c->capacity - 1;
	st->slots = calloc(c->capacity, sizeof(*st->slots));
	st->order = malloc((size_t)c->max_flows * sizeof(*st->order));
	if (!st->slots || !st->order) {
		free(st->slots);
		free(st->order);
		free(st);
		return NULL;
	}
	return st;
}

static void flow_state_destroy(const void *conf, void *state)
{
	struct flow_state *st = state;

	if (!st)
		return;
	free(st->slots);
	free(st->order);
	free(st);
}

static void flow_state_reset(const void *conf, void *state)
{
	struct flow_state *st = state;

	for (uint32_t i = 0; i < st->n_flows; i++)
		memset(&st->slots[st->order[i]], 0, sizeof(struct flow_slot));
	st->n_flows = 0;
	st->n_lost = 0;
}

static void flow_state_merge(const void *conf, void *dst, const void *src)
{
	const struct flow_conf *c = conf;
	const struct flow_state *s = src;
	struct flow_state *d = dst;

	for (uint32_t i = 0; i < s->n_flows; i++) {
		const struct flow_slot *e = &s->slots[s->order[i]];

		if (!flow_add(d, c, &e->key, e->hash, e->packets, e->bytes))
			d->n_lost += e->packets;
	}
	d->n_lost += s->n_lost;
}

static void flow_sift_down(const struct flow_state *st, uint32_t *a, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t child = 2 * root + 1, tmp;

		if (child >= n)
			return;
		if (child + 1 < n && memcmp(&st->slots[a[child]].key, &st->slots[a[child + 1]].key,
					    sizeof(struct flow_key)) < 0)
			child++;
		if (memcmp(&st->slots[a[root]].key, &st->slots[a[child]].key,
			   sizeof(struct flow_key)) >= 0)
			return;
		tmp = a[root];
		a[root] = a[child];
		a[child] = tmp;
		root = child;
	}
}

/* Heapsort by key bytes: in place, no allocation. */
static void flow_sort(struct flow_state *st)
{
	uint32_t *a = st->order, n = st->n_flows, tmp;

	for (uint32_t i = n / 2; i-- > 0;)
		flow_sift_down(st, a, i, n);
	for (uint32_t end = n; end-- > 1;) {
		tmp = a[0];
		a[0] = a[end];
		a[end] = tmp;
		flow_sift_down(st, a, 0, end);
	}
}

static bool flow_state_emit(const void *conf, void *state, uint64_t *cursor, struct sl_ctx *ctx,
			    struct sl_emit *out)
{
	struct flow_state *st = state;
	unsigned emitted = 0;

	if (*cursor == 0) {
		flow_sort(st);
		ctx->counters[FLOW_CNT_OVERFLOW] += st->n_lost;
		st->n_lost = 0;
	}
	while (*cursor < st->n_flows && emitted < SL_EMIT_CAP) {
		const struct flow_slot *s = &st->slots[st->order[*cursor]];
		int af = s->key.ip_ver == 4 ? AF_INET : AF_INET6;
		struct rte_mbuf *m = ctx->host->event_alloc(ctx);
		char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
		struct sl_rec_writer w;
		uint32_t len;

		if (!m)
			return true;
		inet_ntop(af, s->key.src, src, sizeof(src));
		inet_ntop(af, s->key.dst, dst, sizeof(dst));
		sl_rec_begin(&w, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m));
		sl_rec_put_str(&w, "src_ip", src, strlen(src));
		sl_rec_put_str(&w, "dst_ip", dst, strlen(dst));
		sl_rec_put_int(&w, "src_port", s->key.src_port);
		sl_rec_put_int(&w, "dst_port", s->key.dst_port);
		sl_rec_put_int(&w, "proto", s->key.proto);
		sl_rec_put_int(&w, "packets", (int64_t)s->packets);
		sl_rec_put_int(&w, "bytes", (int64_t)s->bytes);
		len = sl_rec_end(&w);
		(*cursor)++;
		emitted++;
		if (!sl_emit_new_record(ctx, out, 0, m, len))
			ctx->counters[FLOW_CNT_EMIT_TOO_LARGE]++;
	}
	return *cursor < st->n_flows;
}

static const struct sl_state_ops flow_state_ops = {
	.create = flow_state_create,
	.merge = flow_state_merge,
	.emit = flow_state_emit,
	.reset = flow_state_reset,
	.destroy = flow_state_destroy,
};

const struct sl_stage_desc sl_stage_flow_count = {
	SL_STAGE_DESC_INIT,
	.name = "flow_count",
	.version = "1.0.0",
	.summary = "count packets and bytes per flow (5-tuple), per window",
	.params = flow_count_params,
	.counters = flow_count_counters,
	.flags = SL_STAGE_F_WINDOWED,
	.init = flow_count_init,
	.process = flow_count_process,
	.fini = flow_count_fini,
	.state = &flow_state_ops,
};
