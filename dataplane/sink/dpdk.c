/*
 * The `dpdk` sink: transmits events out of an ethdev TX queue (one queue per sink;
 * dataplane/port/port.h configures the port, which a dpdk source may share by naming the
 * same device). write runs on the worker lcore that drives the sink and hands the burst
 * to rte_eth_tx_burst; what the PMD does not take goes back to the task, which offers it
 * again (backpressure). The PMD frees what it sent. Packet events go out as received
 * (possibly shortened by stages); line and record events go out as their bytes. An event
 * in an enlarged buffer (long lines, jumbo frames) has no IOVA: virtual devices send it as
 * any other, but a PCI device could not DMA it, so there it is freed and counted as
 * no_iova. Owns its counters and a reference on the port.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "port/port.h"
#include "sink.h"

struct dpdk_sink {
	struct sl_port *port;
	uint16_t port_id, queue;
	bool pci;
	uint64_t n_tx, n_bytes, n_full, n_no_iova;
};

static const struct sl_param_desc dpdk_params[] = {
	{ "device", SL_PARAM_STR, true, NULL,
	  "EAL device string, or the bare name of a port a source declares (net_pcap0)" },
	{ NULL },
};

static int dpdk_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *dev = sl_args_get(args, "device");

	err->key = "device";
	return sl_port_check_device(dev ? dev->str : NULL, err->msg, sizeof(err->msg));
}

static int dpdk_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		       struct sl_error *err)
{
	const struct sl_arg *dev = sl_args_get(args, "device");
	struct dpdk_sink *s;
	int ret;

	*self = NULL;
	if ((ret = dpdk_check(args, err)) < 0)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = sl_port_open_tx(dev->str, &s->port, &s->queue, err->msg, sizeof(err->msg));
	if (ret < 0) {
		err->key = "device";
		free(s);
		return ret;
	}
	s->port_id = sl_port_id(s->port);
	s->pci = sl_port_is_pci(s->port);
	*self = s;
	return 0;
}

/* Take the events a NIC cannot DMA out of the burst (PCI ports only); returns the rest. */
static uint16_t dpdk_drop_no_iova(struct dpdk_sink *s, struct rte_mbuf **ev, uint16_t n)
{
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (unlikely(ev[i]->buf_iova == RTE_BAD_IOVA)) {
			s->n_no_iova++;
			rte_pktmbuf_free(ev[i]);
			continue;
		}
		ev[k++] = ev[i];
	}
	return k;
}

static uint16_t dpdk_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct dpdk_sink *s = self;
	uint16_t sent, taken = 0;
	uint64_t bytes = 0;

	if (unlikely(s->pci)) {
		/* Compacting changes the burst's order only by removing events: the task
		 * offers what is left after `taken` again, so count the dropped as taken
		 * by moving the kept ones to the end. */
		uint16_t k = dpdk_drop_no_iova(s, ev, n);

		if (k < n) {
			memmove(ev + (n - k), ev, k * sizeof(*ev));
			taken = n - k;
			ev += taken;
			n = k;
		}
	}
	/* Bytes first: the PMD may free what it sends before returning. */
#pragma GCC unroll 4
	for (uint32_t i = 0; i < n; i++)
		bytes += ev[i]->pkt_len;
	sent = rte_eth_tx_burst(s->port_id, s->queue, ev, n);
	if (sent < n) {
		s->n_full++;
		for (uint16_t i = sent; i < n; i++)
			bytes -= ev[i]->pkt_len;
	}
	s->n_tx += sent;
	s->n_bytes += bytes;
	return (uint16_t)(taken + sent);
}

static int dpdk_flush(void *self, bool final)
{
	return 0;
}

static void dpdk_summary_line(void *self, char *buf, size_t len)
{
	struct dpdk_sink *s = self;
	struct rte_eth_stats st;

	sl_port_stats(s->port, &st);
	snprintf(buf, len,
		 "port=%s queue=%u tx=%" PRIu64 " bytes=%" PRIu64 " tx_full=%" PRIu64
		 " no_iova=%" PRIu64 " | opackets=%" PRIu64 " oerrors=%" PRIu64 " ipackets=%" PRIu64
		 " imissed=%" PRIu64 " rx_nombuf=%" PRIu64,
		 sl_port_name(s->port), s->queue, s->n_tx, s->n_bytes, s->n_full, s->n_no_iova,
		 st.opackets, st.oerrors, st.ipackets, st.imissed, st.rx_nombuf);
}

static void dpdk_destroy(void *self)
{
	struct dpdk_sink *s = self;

	sl_port_close(s->port);
	free(s);
}

const struct sl_sink_ops sl_sink_dpdk = {
	.type = "dpdk",
	.summary = "transmit events out of a DPDK port (one TX queue per sink)",
	.params = dpdk_params,
	.create = dpdk_create,
	.check = dpdk_check,
	.write = dpdk_write,
	.flush = dpdk_flush,
	.summary_line = dpdk_summary_line,
	.destroy = dpdk_destroy,
};
