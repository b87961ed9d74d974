/*
 * The `pktcheck` sink: the receiving half of the packet generator. It reads the sequence
 * number and TSC that the pktgen source puts at the start of each UDP payload (frames laid
 * out as pktgen writes them: untagged IPv4 without options, UDP to `dst_port`) and reports
 * in its summary line what came back: received, lost (the highest sequence seen + 1 -
 * received; duplicates would hide losses), reordered (sequence below the highest already
 * seen), frames that are not the generator's, and one-way latency percentiles (p50, p99,
 * p99.9, max) from a log-linear histogram of now - TSC. The latency is only meaningful
 * when the TSC is shared with the sender: the same process, or the same host with an
 * invariant TSC. Runs on the worker lcore that drives the sink; owns its counters and the
 * histogram (no allocation after create).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "sink.h"

/* Log-linear histogram: 16 sub-buckets per power of two, so a bucket is within 1/16
 * (6.25 %) of the values it holds; 64 powers cover any uint64_t. */
#define PKTCHECK_SUB_BITS 4
#define PKTCHECK_SUB	  (1u << PKTCHECK_SUB_BITS)
#define PKTCHECK_BUCKETS  (64 * PKTCHECK_SUB)

struct pktcheck_sink {
	uint16_t dst_port;
	uint64_t tsc_hz;
	uint64_t n_received, n_reordered, n_other, n_bytes;
	uint64_t max_seq;
	bool any;
	uint64_t max_lat_ns;
	uint64_t hist[PKTCHECK_BUCKETS];
};

static const struct sl_param_desc pktcheck_params[] = {
	{ "dst_port", SL_PARAM_INT, false, "9", "UDP destination port of the generator's frames" },
	{ NULL },
};

static inline uint32_t pktcheck_bucket(uint64_t v)
{
	uint32_t msb;

	if (v < PKTCHECK_SUB)
		return (uint32_t)v;
	msb = 63u - (uint32_t)__builtin_clzll(v);
	return (msb - PKTCHECK_SUB_BITS + 1) * PKTCHECK_SUB +
	       (uint32_t)((v >> (msb - PKTCHECK_SUB_BITS)) & (PKTCHECK_SUB - 1));
}

/* The smallest value of bucket b. */
static uint64_t pktcheck_bucket_low(uint32_t b)
{
	uint32_t e = b / PKTCHECK_SUB, s = b % PKTCHECK_SUB;

	if (e == 0)
		return s;
	return (uint64_t)(PKTCHECK_SUB + s) << (e - 1);
}

static int pktcheck_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *p = sl_args_get(args, "dst_port");

	if (p && (p->i < 0 || p->i > 65535)) {
		err->key = "dst_port";
		snprintf(err->msg, sizeof(err->msg), "dst_port must be 0..65535");
		return -EINVAL;
	}
	return 0;
}

static int pktcheck_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
			   struct sl_error *err)
{
	const struct sl_arg *p = sl_args_get(args, "dst_port");
	struct pktcheck_sink *s;
	int ret;

	*self = NULL;
	if ((ret = pktcheck_check(args, err)) < 0)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dst_port = p ? (uint16_t)p->i : 9;
	s->tsc_hz = env->tsc_hz ? env->tsc_hz : rte_get_tsc_hz();
	*self = s;
	return 0;
}

static uint16_t pktcheck_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct pktcheck_sink *s = self;
	uint64_t now = rte_rdtsc();

	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(ev[i], const uint8_t *);
		uint64_t seq, tsc, lat;

		if (ev[i]->data_len < 58 || p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45 ||
		    p[23] != 17 || (uint16_t)(p[36] << 8 | p[37]) != s->dst_port) {
			s->n_other++;
			continue;
		}
		memcpy(&seq, p + 42, 8);
		memcpy(&tsc, p + 50, 8);
		seq = rte_le_to_cpu_64(seq);
		tsc = rte_le_to_cpu_64(tsc);
		s->n_received++;
		s->n_bytes += ev[i]->pkt_len;
		if (s->any && seq < s->max_seq)
			s->n_reordered++;
		if (!s->any || seq > s->max_seq)
			s->max_seq = seq;
		s->any = true;
		lat = now > tsc
			      ? (uint64_t)((unsigned __int128)(now - tsc) * 1000000000u / s->tsc_hz)
			      : 0;
		s->hist[pktcheck_bucket(lat)]++;
		if (lat > s->max_lat_ns)
			s->max_lat_ns = lat;
	}
	rte_pktmbuf_free_bulk(ev, n);
	return n;
}

static int pktcheck_flush(void *self, bool final)
{
	return 0;
}

/* The value below which a fraction q of the latencies lie (bucket's lower bound). */
static uint64_t pktcheck_quantile(const struct pktcheck_sink *s, double q)
{
	uint64_t rank = (uint64_t)(q * (double)s->n_received), seen = 0;

	if (rank >= s->n_received)
		rank = s->n_received - 1;
	for (uint32_t b = 0; b < PKTCHECK_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen > rank)
			return pktcheck_bucket_low(b);
	}
	return s->max_lat_ns;
}

static void pktcheck_summary_line(void *self, char *buf, size_t len)
{
	struct pktcheck_sink *s = self;
	uint64_t expected = s->any ? s->max_seq + 1 : 0;

	if (!s->n_received) {
		snprintf(buf, len, "received=0 other=%" PRIu64, s->n_other);
		return;
	}
	snprintf(buf, len,
		 "received=%" PRIu64 " lost=%" PRIu64 " reordered=%" PRIu64 " other=%" PRIu64
		 " latency_ns p50=%" PRIu64 " p99=%" PRIu64 " p99.9=%" PRIu64 " max=%" PRIu64,
		 s->n_received, expected > s->n_received ? expected - s->n_received : 0,
		 s->n_reordered, s->n_other, pktcheck_quantile(s, 0.5), pktcheck_quantile(s, 0.99),
		 pktcheck_quantile(s, 0.999), s->max_lat_ns);
}

static void pktcheck_destroy(void *self)
{
	free(self);
}

const struct sl_sink_ops sl_sink_pktcheck = {
	.type = "pktcheck",
	.summary = "count what comes back from pktgen: received, lost, reordered, latency "
		   "percentiles",
	.params = pktcheck_params,
	.create = pktcheck_create,
	.check = pktcheck_check,
	.write = pktcheck_write,
	.flush = pktcheck_flush,
	.summary_line = pktcheck_summary_line,
	.destroy = pktcheck_destroy,
};
