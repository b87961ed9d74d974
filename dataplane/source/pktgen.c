/*
 * The `pktgen` source: a packet generator in the spirit of pktgen-dpdk and VPP's packet
 * generator. It emits `count` UDP/IPv4 packet events (0 = until stopped), as fast as the
 * pipeline takes them or at `rate` packets per second paced by the TSC, of a fixed `size`
 * or the simple IMIX (60, 590 and 1514-byte frames, 64/594/1518 on the wire with the FCS,
 * in the repeating pattern 7:4:1 by sequence number), spread over `flows` flows (flow =
 * sequence % flows: source port 1024 + flow, source address 10.0.0.1 + flow / 60000).
 * Each payload starts with what a receiver needs to find loss, reordering and latency:
 * the sequence number and the TSC when the burst was made (8 bytes each, little-endian),
 * then bytes from a seeded PRNG (the same for every packet: payload[16 + i] = fill[i]). Send it out of a `dpdk` sink to load a device under test.
 *
 * create runs on the control thread, poll on the one worker lcore that drives the
 * replica; a replica owns its counters and its share of count, rate and flows (the
 * sequence numbers of replica k of n are k, k + n, k + 2n, ...). Frames are written in
 * place into the event's mbuf from a template built at create: per packet only the
 * lengths, checksum, ports and payload header change.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "event/event.h"
#include "source.h"

#define PKTGEN_HDR	   42 /* Ethernet 14 + IPv4 20 + UDP 8 */
#define PKTGEN_MIN	   60 /* Ethernet minimum without FCS */
#define PKTGEN_PAYLOAD_HDR 16 /* seq 8, tsc 8: fits the smallest frame */
#define PKTGEN_MAX	   9000

_Static_assert(PKTGEN_HDR + PKTGEN_PAYLOAD_HDR <= PKTGEN_MIN, "the smallest frame holds seq+tsc");

static const uint16_t pktgen_imix[12] = { 60, 60, 60, 590, 60, 60, 590, 60, 60, 590, 590, 1514 };

struct pktgen_source {
	struct rte_mempool *pool;
	int meta_offset;
	uint16_t node_id;
	uint16_t size; /* 0 = IMIX */
	bool big;      /* frames need an enlarged event (longer than a small mbuf) */
	uint32_t flows;
	uint64_t count; /* this replica's share; 0 = unbounded */
	uint64_t rate;	/* this replica's packets per second; 0 = unpaced */
	uint64_t tsc_hz;
	uint64_t start_tsc, last_tsc;
	uint64_t duration_tsc; /* stop this long after the first poll; 0 = no limit */
	uint64_t n_sent;       /* packets made by this replica */
	uint16_t replica, n_replicas;
	uint64_t rng;
	bool stopped;
	uint64_t n_bytes, n_nombuf;
	uint8_t fill[PKTGEN_MAX]; /* seeded payload bytes */
	uint8_t tmpl[PKTGEN_HDR];
};

static const struct sl_param_desc pktgen_params[] = {
	{ "count", SL_PARAM_INT, false, "1000000", "packets to send (0 = until stopped)" },
	{ "rate", SL_PARAM_INT, false, "0", "packets per second (0 = as fast as possible)" },
	{ "bitrate", SL_PARAM_INT, false, "0",
	  "bits per second on the wire (frame + FCS, preamble and gap: 24 bytes), instead of "
	  "rate; 10G = 10 Gbit/s" },
	{ "duration", SL_PARAM_STR, false, NULL,
	  "stop after this long (10s, 500ms), whichever of count and duration comes first" },
	{ "size", SL_PARAM_STR, false, "60",
	  "frame bytes without FCS (60..9000, at most the event's room), or imix" },
	{ "flows", SL_PARAM_INT, false, "1", "distinct flows (source port / address)" },
	{ "dst_port", SL_PARAM_INT, false, "9", "UDP destination port" },
	{ "seed", SL_PARAM_INT, false, "1", "PRNG seed of the payload bytes" },
	{ "emit", SL_PARAM_STR, false, "packets",
	  "packets (the only value here: `type: gen` with `emit: packets` is this source)" },
	{ NULL },
};

/* splitmix64, as the line generator. */
static inline uint64_t pktgen_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int pktgen_size(const struct sl_args *args, uint16_t *size, struct sl_error *err)
{
	const struct sl_arg *a = sl_args_get(args, "size");
	char *end;
	long v;

	if (!a || !a->str || strcmp(a->str, "imix") == 0) {
		*size = a && a->str ? 0 : PKTGEN_MIN;
		return 0;
	}
	v = strtol(a->str, &end, 10);
	if (*end || v < PKTGEN_MIN || v > PKTGEN_MAX) {
		err->key = "size";
		snprintf(err->msg, sizeof(err->msg), "size must be imix or %d..%d, not '%s'",
			 PKTGEN_MIN, PKTGEN_MAX, a->str);
		return -EINVAL;
	}
	*size = (uint16_t)v;
	return 0;
}

static int pktgen_check(const struct sl_args *args, struct sl_error *err)
{
	static const struct {
		const char *key;
		int64_t min, max;
	} ranges[] = {
		{ "count", 0, INT64_MAX }, { "rate", 0, INT64_MAX }, { "bitrate", 0, INT64_MAX },
		{ "flows", 1, 1 << 24 },   { "dst_port", 0, 65535 },
	};
	const struct sl_arg *rate = sl_args_get(args, "rate"),
			    *bitrate = sl_args_get(args, "bitrate"),
			    *duration = sl_args_get(args, "duration"),
			    *emit = sl_args_get(args, "emit");
	uint64_t ns;
	uint16_t size;

	if (emit && emit->str && strcmp(emit->str, "packets") != 0) {
		err->key = "emit";
		snprintf(err->msg, sizeof(err->msg),
			 "a pktgen source emits packets only, not '%s' (lines: type: gen)",
			 emit->str);
		return -EINVAL;
	}
	if (rate && bitrate && rate->i && bitrate->i) {
		err->key = "bitrate";
		snprintf(err->msg, sizeof(err->msg), "give rate or bitrate, not both");
		return -EINVAL;
	}
	if (duration && duration->str && (sl_window_parse(duration->str, &ns) < 0 || ns == 0)) {
		err->key = "duration";
		snprintf(err->msg, sizeof(err->msg),
			 "duration must look like 10s or 500ms, not '%s'", duration->str);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		const struct sl_arg *a = sl_args_get(args, ranges[i].key);

		if (a && (a->i < ranges[i].min || a->i > ranges[i].max)) {
			err->key = ranges[i].key;
			snprintf(err->msg, sizeof(err->msg),
				 "%s must be between %" PRId64 " and %" PRId64, ranges[i].key,
				 ranges[i].min, ranges[i].max);
			return -EINVAL;
		}
	}
	return pktgen_size(args, &size, err);
}

static uint16_t pktgen_ip_csum(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void pktgen_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Write packet seq (of flow) of len bytes at p. */
static void pktgen_frame(const struct pktgen_source *g, uint8_t *p, uint16_t len, uint64_t seq,
			 uint64_t tsc)
{
	uint32_t flow = (uint32_t)(seq % g->flows);
	uint32_t src = 0x0a000001u + flow / 60000;
	uint8_t *ip = p + 14, *udp = p + 34, *pl = p + PKTGEN_HDR;

	memcpy(p, g->tmpl, PKTGEN_HDR);
	pktgen_put16(ip + 2, len - 14u);
	pktgen_put16(ip + 4, (uint32_t)seq);
	ip[12] = (uint8_t)(src >> 24);
	ip[13] = (uint8_t)(src >> 16);
	ip[14] = (uint8_t)(src >> 8);
	ip[15] = (uint8_t)src;
	pktgen_put16(ip + 10, pktgen_ip_csum(ip));
	pktgen_put16(udp, 1024 + flow % 60000);
	pktgen_put16(udp + 4, len - 34u);
	seq = rte_cpu_to_le_64(seq);
	tsc = rte_cpu_to_le_64(tsc);
	memcpy(pl, &seq, 8);
	memcpy(pl + 8, &tsc, 8);
	memcpy(pl + PKTGEN_PAYLOAD_HDR, g->fill, len - PKTGEN_HDR - PKTGEN_PAYLOAD_HDR);
}

static uint16_t pktgen_poll(void *self, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct pktgen_source *g = self;
	uint64_t want = max, tsc = rte_rdtsc();

	if (__atomic_load_n(&g->stopped, __ATOMIC_RELAXED) || (g->count && g->n_sent >= g->count)) {
		*done = true;
		return 0;
	}
	if (!g->start_tsc)
		g->start_tsc = tsc;
	if (g->duration_tsc && tsc - g->start_tsc >= g->duration_tsc) {
		/* The rate is judged over the whole duration (pktgen_summary_line): a run that
		 * stalled (a busy machine, a stopped process) and ran out of time sent less
		 * than was due, which is a rate not held, however fast its last burst was. */
		g->last_tsc = g->start_tsc + g->duration_tsc;
		*done = true;
		return 0;
	}
	if (g->count && g->count - g->n_sent < want)
		want = g->count - g->n_sent;
	if (g->rate) {
		uint64_t due =
			(uint64_t)((unsigned __int128)(tsc - g->start_tsc) * g->rate / g->tsc_hz) +
			1;

		if (due <= g->n_sent)
			return 0;
		if (due - g->n_sent < want)
			want = due - g->n_sent;
	}
	if (rte_pktmbuf_alloc_bulk(g->pool, ev, (unsigned)want) != 0) {
		g->n_nombuf++;
		return 0;
	}
	for (uint64_t i = 0; i < want; i++) {
		struct rte_mbuf *m = ev[i];
		struct sl_meta *meta = sl_event_meta(g->meta_offset, m);
		uint64_t seq = g->n_sent * g->n_replicas + g->replica;
		uint16_t len = g->size ? g->size : pktgen_imix[seq % 12];

		if (g->big && !sl_event_enlarge(m)) {
			/* No big buffer free now: send what is ready, try again next poll. */
			rte_pktmbuf_free_bulk(ev + i, (unsigned)(want - i));
			g->n_nombuf++;
			want = i;
			break;
		}
		pktgen_frame(g, rte_pktmbuf_mtod(m, uint8_t *), len, seq, tsc);
		m->data_len = len;
		m->pkt_len = len;
		meta->event_id = seq;
		meta->ingest_tsc = tsc;
		meta->source = g->node_id;
		meta->kind = SL_EVENT_PACKET;
		meta->flags = 0;
		meta->raw_len = len;
		meta->rec_off = 0;
		g->n_bytes += len;
		g->n_sent++;
	}
	g->last_tsc = tsc;
	*done = g->count && g->n_sent >= g->count;
	return (uint16_t)want;
}

static void pktgen_stop(void *self)
{
	struct pktgen_source *g = self;

	/* Relaxed: the worker only needs to see it eventually; no data is published. */
	__atomic_store_n(&g->stopped, true, __ATOMIC_RELAXED);
}

static void pktgen_summary_line(void *self, char *buf, size_t len)
{
	struct pktgen_source *g = self;
	double secs = g->last_tsc > g->start_tsc
			      ? (double)(g->last_tsc - g->start_tsc) / (double)g->tsc_hz
			      : 0;
	double pps = secs > 0 && g->n_sent > 1 ? (double)(g->n_sent - 1) / secs : 0;
	int n;

	n = snprintf(buf, len, "packets=%" PRIu64 " bytes=%" PRIu64 " nombuf=%" PRIu64 " pps=%.0f",
		     g->n_sent, g->n_bytes, g->n_nombuf, pps);
	/* Whether the target rate was held: within 1 %, else say what was reached. */
	if (g->rate && n > 0 && (size_t)n < len && g->n_sent > 1)
		snprintf(buf + n, len - (size_t)n, " target=%" PRIu64 " (%s, %.1f%%)", g->rate,
			 pps >= 0.99 * (double)g->rate ? "held" : "NOT held",
			 100.0 * pps / (double)g->rate);
}

static void pktgen_destroy(void *self)
{
	free(self);
}

static int pktgen_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
			 struct sl_error *err)
{
	const struct sl_arg *count = sl_args_get(args, "count");
	const struct sl_arg *rate = sl_args_get(args, "rate");
	const struct sl_arg *flows = sl_args_get(args, "flows");
	const struct sl_arg *dport = sl_args_get(args, "dst_port");
	const struct sl_arg *seed = sl_args_get(args, "seed");
	uint32_t small = rte_pktmbuf_data_room_size(env->pool) - RTE_PKTMBUF_HEADROOM, room = small;
	struct rte_mbuf *probe = rte_pktmbuf_alloc(env->pool);
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	struct pktgen_source *g;
	uint16_t size, k = env->replica, n = env->n_replicas ? env->n_replicas : 1;
	uint64_t total;
	int ret;

	*self = NULL;
	if ((ret = pktgen_check(args, err)) < 0)
		return ret;
	if ((ret = pktgen_size(args, &size, err)) < 0)
		return ret;
	/* The room of an enlarged event, if the pool has big buffers. */
	if (probe && sl_event_enlarge(probe))
		room = rte_pktmbuf_tailroom(probe);
	rte_pktmbuf_free(probe);
	if ((size ? size : 1514) > room) {
		err->key = "size";
		snprintf(err->msg, sizeof(err->msg), "events hold frames of %u bytes, not %u", room,
			 size ? size : 1514u);
		return -EINVAL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->pool = env->pool;
	g->meta_offset = env->meta_offset;
	g->node_id = env->node_id;
	g->size = size;
	g->big = size > small;
	g->flows = flows ? (uint32_t)flows->i : 1;
	g->tsc_hz = env->tsc_hz ? env->tsc_hz : rte_get_tsc_hz();
	g->replica = k;
	g->n_replicas = n;
	total = count ? (uint64_t)count->i : 1000000;
	g->count = total / n + (k < total % n);
	if (total && g->count == 0)
		g->stopped = true; /* a share of nothing (count 0 would mean unbounded) */
	{
		const struct sl_arg *bitrate = sl_args_get(args, "bitrate");
		const struct sl_arg *duration = sl_args_get(args, "duration");
		uint64_t pps = rate ? (uint64_t)rate->i : 0, ns = 0;

		if (bitrate && bitrate->i > 0) {
			/* Mean wire bytes per packet: frame + FCS 4 + preamble 8 + gap 12. */
			uint64_t wire12 = 0;

			for (int i = 0; i < 12; i++)
				wire12 += (uint64_t)(size ? size : pktgen_imix[i]) + 24;
			pps = (uint64_t)bitrate->i * 12 / (wire12 * 8);
			if (pps == 0)
				pps = 1;
		}
		g->rate = pps ? (pps / n ? pps / n : 1) : 0;
		if (duration && duration->str && sl_window_parse(duration->str, &ns) == 0)
			g->duration_tsc =
				(uint64_t)((unsigned __int128)ns * g->tsc_hz / 1000000000u);
	}
	g->rng = seed ? (uint64_t)seed->i : 1;
	for (size_t i = 0; i < sizeof(g->fill); i++)
		g->fill[i] = (uint8_t)pktgen_next(&g->rng);
	/* Template: Ethernet, IPv4 (DF, TTL 64, UDP, 10.0.0.x -> 10.0.1.1), UDP. */
	memcpy(g->tmpl, macs, 12);
	pktgen_put16(g->tmpl + 12, 0x0800);
	g->tmpl[14] = 0x45;
	pktgen_put16(g->tmpl + 14 + 6, 0x4000);
	g->tmpl[14 + 8] = 64;
	g->tmpl[14 + 9] = 17;
	memcpy(g->tmpl + 14 + 16, (uint8_t[]){ 10, 0, 1, 1 }, 4);
	pktgen_put16(g->tmpl + 34 + 2, dport ? (uint32_t)dport->i : 9);
	*self = g;
	return 0;
}

const struct sl_source_ops sl_source_pktgen = {
	.type = "pktgen",
	.summary = "generate UDP packets (rate, size or IMIX, flows; sequence and TSC in the "
		   "payload)",
	.flags = SL_SOURCE_F_REPLICAS,
	/* Each event a packet in a fresh mbuf (rte_pktmbuf_alloc_bulk). */
	.facts = SL_FACT_PACKETS | SL_FACT_UNSHARED,
	.params = pktgen_params,
	.create = pktgen_create,
	.check = pktgen_check,
	.poll = pktgen_poll,
	.stop = pktgen_stop,
	.summary_line = pktgen_summary_line,
	.destroy = pktgen_destroy,
};
