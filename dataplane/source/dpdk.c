/*
 * The `dpdk` source: packets from an ethdev RX queue, one queue per replica
 * (dataplane/port/port.h configures and starts the port). poll runs on the worker lcore
 * that drives this replica and does one rte_eth_rx_burst straight into the event array:
 * no copy, no allocation; each frame becomes a packet event (meta kind SL_EVENT_PACKET,
 * event_id = port << 48 | per-queue sequence). Events are single mbufs: a frame the PMD
 * chained over several (longer than a small event) is copied into an enlarged event
 * (sl_event_enlarge), or, when longer than that too or no big buffer is free, freed and
 * counted as oversize. A port replaying a capture
 * (net_pcap rx_pcap) ends the source when the capture is consumed: the port's ipackets +
 * rx_nombuf + ierrors reach the packets counted in the files at plan time, or, when the
 * files could not be counted, after a second without packets. Other ports run until
 * stopped, or until `idle:` passes without a packet. The instance owns its counters and a reference on the port.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "event/event.h"
#include "port/port.h"
#include "source.h"
#include "worker/worker.h"

/* dpdk_poll writes the metadata as three words; the third holds raw_len at bits 32..47. */
#define DPDK_META_TAIL 16
_Static_assert(offsetof(struct sl_meta, event_id) == 0 &&
		       offsetof(struct sl_meta, ingest_tsc) == 8 &&
		       offsetof(struct sl_meta, source) == DPDK_META_TAIL &&
		       offsetof(struct sl_meta, raw_len) == DPDK_META_TAIL + 4 &&
		       sizeof(struct sl_meta) == DPDK_META_TAIL + 8,
	       "struct sl_meta as dpdk_poll writes it");
_Static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "dpdk_poll's metadata word is little-endian");

struct dpdk_source {
	struct sl_port *port;
	uint16_t port_id, queue;
	int meta_offset;
	uint16_t node_id;
	bool stopped;
	bool capture;
	int64_t expected;
	uint64_t tsc_hz, idle_since;
	uint64_t seq;
	struct rte_mempool *pool;
	uint64_t rate, start_tsc;	/* packets per second of this replica, 0 = no limit */
	uint64_t idle_tsc, quiet_since; /* `idle:` end after this long without a packet */
	uint64_t n_rx, n_bytes, n_oversize, n_enlarged;
};

static const struct sl_param_desc dpdk_params[] = {
	{ "device", SL_PARAM_STR, true, NULL,
	  "EAL device: \"net_pcap0,rx_pcap=in.pcap\", a PCI address, or a port's bare name" },
	{ "loop", SL_PARAM_BOOL, false, "false",
	  "net_pcap capture: replay it forever (infinite_rx) instead of ending" },
	{ "rate", SL_PARAM_INT, false, "0",
	  "packets per second at most (replay a capture at this rate; 0 = as fast as it comes)" },
	{ "idle", SL_PARAM_STR, false, NULL,
	  "end after this long without a packet (500ms, 2s), counted from the start: a live "
	  "port's traffic has an end" },
	{ NULL },
};

static int dpdk_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *dev = sl_args_get(args, "device");
	const struct sl_arg *rate = sl_args_get(args, "rate");
	const struct sl_arg *idle = sl_args_get(args, "idle");
	uint64_t ns;

	err->key = "device";
	if (sl_port_check_device(dev ? dev->str : NULL, err->msg, sizeof(err->msg)) < 0)
		return -EINVAL;
	if (rate && rate->i < 0) {
		err->key = "rate";
		snprintf(err->msg, sizeof(err->msg), "rate must be >= 0");
		return -EINVAL;
	}
	if (idle && idle->str && (sl_window_parse(idle->str, &ns) < 0 || ns == 0)) {
		err->key = "idle";
		snprintf(err->msg, sizeof(err->msg),
			 "idle must be a duration such as 500ms or 2s, not '%s'", idle->str);
		return -EINVAL;
	}
	return 0;
}

static int dpdk_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		       struct sl_error *err)
{
	const struct sl_arg *dev = sl_args_get(args, "device");
	struct dpdk_source *s;
	int ret;

	*self = NULL;
	if ((ret = dpdk_check(args, err)) < 0)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = sl_port_open_rx(dev->str, env->pool, &s->port, &s->queue, err->msg, sizeof(err->msg));
	if (ret < 0) {
		err->key = "device";
		free(s);
		return ret;
	}
	s->port_id = sl_port_id(s->port);
	s->pool = env->pool;
	{
		const struct sl_arg *rate = sl_args_get(args, "rate");
		uint64_t r = rate && rate->i > 0 ? (uint64_t)rate->i : 0;
		uint16_t n = env->n_replicas ? env->n_replicas : 1;

		/* Each replica takes its share, at least 1 packet per second. */
		s->rate = r ? (r / n ? r / n : 1) : 0;
	}
	s->meta_offset = env->meta_offset;
	s->node_id = env->node_id;
	s->capture = sl_port_is_capture(s->port);
	s->expected = sl_port_rx_expected(s->port);
	s->tsc_hz = env->tsc_hz ? env->tsc_hz : rte_get_tsc_hz();
	{
		const struct sl_arg *idle = sl_args_get(args, "idle");
		uint64_t ns = 0;

		if (idle && idle->str && sl_window_parse(idle->str, &ns) == 0)
			s->idle_tsc = (uint64_t)((unsigned __int128)ns * s->tsc_hz / 1000000000u);
	}
	*self = s;
	return 0;
}

/* A capture is consumed when the port has accounted for every packet of its files. */
static bool dpdk_capture_done(struct dpdk_source *s, uint64_t now)
{
	struct rte_eth_stats st;

	if (!s->capture)
		return false;
	if (s->expected >= 0) {
		sl_port_stats(s->port, &st);
		return st.ipackets + st.rx_nombuf + st.ierrors >= (uint64_t)s->expected;
	}
	if (!s->idle_since)
		s->idle_since = now;
	return now - s->idle_since > s->tsc_hz;
}

/* One event for a chained frame: an enlarged mbuf holding all its bytes, or NULL (the chain
 * is freed either way). */
static struct rte_mbuf *dpdk_linearize(struct dpdk_source *s, struct rte_mbuf *chain)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
	uint32_t len = chain->pkt_len, off = 0;

	if (m && (!sl_event_enlarge(m) || rte_pktmbuf_tailroom(m) < len)) {
		rte_pktmbuf_free(m);
		m = NULL;
	}
	if (m) {
		for (struct rte_mbuf *seg = chain; seg && off < len; seg = seg->next) {
			uint32_t n = RTE_MIN((uint32_t)seg->data_len, len - off);

			memcpy(rte_pktmbuf_mtod_offset(m, char *, off),
			       rte_pktmbuf_mtod(seg, char *), n);
			off += n;
		}
		m->data_len = (uint16_t)off;
		m->pkt_len = off;
		m->port = chain->port;
		s->n_enlarged++;
	} else {
		s->n_oversize++;
	}
	rte_pktmbuf_free(chain);
	return m;
}

/* One frame's metadata (id, the burst's tsc, the tail word with its length) and its parse
 * fields cleared (pkt_parse's results live there: no PMD's guesses leak through). Returns
 * the frame's length. */
static __rte_always_inline uint16_t dpdk_stamp_one(struct rte_mbuf *m, int meta_offset, uint64_t id,
						   uint64_t tsc, uint64_t tail)
{
	char *meta = (char *)sl_event_meta(meta_offset, m);
	uint16_t len = m->data_len;
	uint64_t w = tail | (uint64_t)len << 32;

	memcpy(meta, &id, 8);
	memcpy(meta + 8, &tsc, 8);
	memcpy(meta + DPDK_META_TAIL, &w, 8);
	m->packet_type = 0;
	m->tx_offload = 0;
	return len;
}

/*
 * Makes each frame a packet event: its metadata as three word stores, from values built
 * once per burst (locals, so the stores into the mbufs cannot make the compiler reload
 * them), and the parse fields cleared. The common burst (single-segment frames, a
 * sequence that does not wrap at 48 bits) is one pass over four frames at a time, with
 * one test of their segment counts, that stores nothing else; a chained frame or a
 * wrapping sequence continues in the general loop from there. Returns the events left in
 * ev (a chained frame that cannot be copied is freed). The metadata's line (the mbuf's
 * second, which a PMD does not write on receive) is not prefetched: freeing an mbuf reads
 * it (rte_pktmbuf_prefree_seg tests next), and the pool's per-lcore cache hands out the
 * most recently freed mbufs first. A loop of prefetches was 4 of this path's 25.6
 * instructions a frame (perf/RESULTS.md, "fifteenth session").
 */
static __rte_always_inline uint16_t dpdk_stamp(struct dpdk_source *s, struct rte_mbuf **ev,
					       uint16_t n, uint64_t tsc)
{
	const struct sl_meta base = {
		.source = s->node_id,
		.kind = SL_EVENT_PACKET,
	};
	const uint64_t seq_mask = (1ull << 48) - 1;
	uint64_t id = (uint64_t)s->port_id << 48, seq = s->seq, bytes = 0, tail;
	int meta_offset = s->meta_offset;
	uint32_t i = 0, k;

	/* The last 8 bytes (source, kind, flags, raw_len, rec_off) as one word, with
	 * raw_len at bits 32..47. */
	memcpy(&tail, (const char *)&base + DPDK_META_TAIL, sizeof(tail));
	if (likely((seq & seq_mask) + n <= seq_mask)) {
		const uint64_t first = id | (seq & seq_mask);

		for (; i + 4 <= n; i += 4) {
			struct rte_mbuf *m0 = ev[i], *m1 = ev[i + 1], *m2 = ev[i + 2],
					*m3 = ev[i + 3];

			/* Any count above 1 sets a bit above bit 0. */
			if (unlikely((m0->nb_segs | m1->nb_segs | m2->nb_segs | m3->nb_segs) > 1))
				break;
			bytes += dpdk_stamp_one(m0, meta_offset, first + i, tsc, tail);
			bytes += dpdk_stamp_one(m1, meta_offset, first + i + 1, tsc, tail);
			bytes += dpdk_stamp_one(m2, meta_offset, first + i + 2, tsc, tail);
			bytes += dpdk_stamp_one(m3, meta_offset, first + i + 3, tsc, tail);
		}
		seq += i;
	}
	for (k = i; i < n; i++) {
		struct rte_mbuf *m = ev[i];

		if (m->nb_segs > 1 && !(m = dpdk_linearize(s, m)))
			continue;
		bytes += dpdk_stamp_one(m, meta_offset, id | (seq++ & seq_mask), tsc, tail);
		ev[k++] = m;
	}
	s->seq = seq;
	s->n_bytes += bytes;
	return (uint16_t)k;
}

static uint16_t dpdk_poll(void *self, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct dpdk_source *s = self;
	uint64_t tsc;
	uint16_t n, k = 0;

	if (__atomic_load_n(&s->stopped, __ATOMIC_RELAXED)) {
		*done = true;
		return 0;
	}
	if (s->rate) {
		/* Paced like the generators: what is due by now, from the first poll. */
		uint64_t now = rte_rdtsc(), due;

		if (!s->start_tsc)
			s->start_tsc = now;
		due = (uint64_t)((unsigned __int128)(now - s->start_tsc) * s->rate / s->tsc_hz) + 1;
		if (due <= s->n_rx)
			return 0;
		if (due - s->n_rx < max)
			max = (uint16_t)(due - s->n_rx);
	}
	/* The burst's time: when this poll began, as the pipeline read it (worker.h). */
	tsc = sl_worker_tsc;
	n = rte_eth_rx_burst(s->port_id, s->queue, ev, max);
	if (n == 0) {
		if (s->idle_tsc && !s->quiet_since)
			s->quiet_since = tsc;
		*done = dpdk_capture_done(s, tsc) ||
			(s->idle_tsc && tsc - s->quiet_since > s->idle_tsc);
		return 0;
	}
	s->idle_since = 0;
	s->quiet_since = 0;
	k = dpdk_stamp(s, ev, n, tsc);
	s->n_rx += n;
	return k;
}

static void dpdk_stop(void *self)
{
	struct dpdk_source *s = self;

	/* Relaxed: the worker only needs to see it eventually; no data is published. */
	__atomic_store_n(&s->stopped, true, __ATOMIC_RELAXED);
}

/* One RX queue per replica: net_pcap has one per rx_pcap / rx_iface argument, so a
 * capture read from one file stays one replica under `--replicas N`; other PMDs say how
 * many queues they have only once the EAL is up (too many fail there, naming the port). */
static bool dpdk_can_split(const struct sl_args *args)
{
	const struct sl_arg *dev = sl_args_get(args, "device");
	const char *s;
	int n = 0;

	if (!dev || !dev->str || strncmp(dev->str, "net_pcap", 8) != 0)
		return true;
	for (s = strchr(dev->str, ','); s; s = strchr(s + 1, ','))
		if (strncmp(s + 1, "rx_pcap=", 8) == 0 || strncmp(s + 1, "rx_iface=", 9) == 0 ||
		    strncmp(s + 1, "iface=", 6) == 0)
			n++;
	return n > 1;
}

static void dpdk_summary_line(void *self, char *buf, size_t len)
{
	struct dpdk_source *s = self;
	struct rte_eth_stats st;

	sl_port_stats(s->port, &st);
	snprintf(buf, len,
		 "port=%s queue=%u rx=%" PRIu64 " bytes=%" PRIu64 " enlarged=%" PRIu64
		 " oversize=%" PRIu64 " | ipackets=%" PRIu64 " imissed=%" PRIu64
		 " rx_nombuf=%" PRIu64 " ierrors=%" PRIu64 " oerrors=%" PRIu64,
		 sl_port_name(s->port), s->queue, s->n_rx, s->n_bytes, s->n_enlarged, s->n_oversize,
		 st.ipackets, st.imissed, st.rx_nombuf, st.ierrors, st.oerrors);
}

static void dpdk_destroy(void *self)
{
	struct dpdk_source *s = self;

	sl_port_close(s->port);
	free(s);
}

const struct sl_source_ops sl_source_dpdk = {
	.type = "dpdk",
	.summary = "packets from a DPDK port (any PMD: net_pcap, net_null, NICs), one RX queue "
		   "per replica",
	.flags = SL_SOURCE_F_REPLICAS,
	/* Each event a packet, a fresh mbuf of the PMD's (or the copy of a chained frame). */
	.facts = SL_FACT_PACKETS | SL_FACT_UNSHARED,
	.params = dpdk_params,
	.create = dpdk_create,
	.check = dpdk_check,
	.poll = dpdk_poll,
	.stop = dpdk_stop,
	.can_split = dpdk_can_split,
	.summary_line = dpdk_summary_line,
	.destroy = dpdk_destroy,
};
