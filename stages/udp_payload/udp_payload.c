/*
 * udp_payload: turns a parsed UDP packet event into a line event holding its payload, so
 * syslog or JSON sent over UDP flows into the log stages. The payload is what the UDP
 * length says, cut at the end of the IP packet (Ethernet padding is not payload);
 * trailing CR and LF bytes are removed, as a line has no newline. The event is trimmed in
 * place (rte_pktmbuf_adj, no copy unless it is shared) and, when little room is left
 * behind it, moved to the start of the buffer, so a parser has the most room for the
 * record it appends; a line too long for that (about the line's size again plus 256
 * bytes of keys) is copied into a fresh event from host->event_alloc, which has the
 * runtime's largest room (copy-on-write, as event_unshare does). A record that still does
 * not fit is the parser's error, as for any long line. Packets that are not UDP (or are fragments, or were not parsed) are dropped
 * as filtered and counted. Built-in stage, stateless.
 */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/stage.h>

#include "../pkt_parse/pkt.h"

enum { UDP_PAYLOAD_CNT_LINES = 0, UDP_PAYLOAD_CNT_NOT_UDP };

static const char *const udp_payload_counters[] = { "lines", "not_udp", NULL };

static const struct sl_param_desc udp_payload_params[] = {
	{ NULL },
};

static int udp_payload_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			    struct sl_error *err)
{
	*conf = NULL;
	return 0;
}

static void udp_payload_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				struct sl_emit *out)
{
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		struct sl_pkt_view v;
		const uint8_t *p;
		uint32_t off, end, len;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(evs[i + 1], void *));
		if (meta->kind != SL_EVENT_PACKET || ev->nb_segs != 1 || !sl_pkt_view(ev, &v) ||
		    !v.has_ports || v.proto != 17) {
			cnt[UDP_PAYLOAD_CNT_NOT_UDP]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
			continue;
		}
		p = rte_pktmbuf_mtod(ev, const uint8_t *);
		off = v.l4_off + 8u;
		end = v.l4_off + (uint32_t)sl_pkt_be16(p + v.l4_off + 4);
		if (end > v.l3_end)
			end = v.l3_end;
		if (end > ev->data_len)
			end = ev->data_len;
		if (end < off)
			end = off;
		while (end > off && (p[end - 1] == '\n' || p[end - 1] == '\r'))
			end--;
		len = end - off;
		if (rte_mbuf_refcnt_read(ev) > 1) {
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev)
				continue; /* counted by the host as nombuf */
			meta = sl_ctx_meta(ctx, ev);
		}
		rte_pktmbuf_adj(ev, (uint16_t)off);
		ev->data_len = (uint16_t)len;
		ev->pkt_len = len;
		/* Leave a parser room for its record behind the line. */
		if (2 * len + 256 > (uint32_t)(ev->buf_len - RTE_PKTMBUF_HEADROOM)) {
			struct rte_mbuf *big = ctx->host->event_alloc(ctx);

			if (big && rte_pktmbuf_tailroom(big) > rte_pktmbuf_tailroom(ev) &&
			    rte_pktmbuf_tailroom(big) >= len) {
				memcpy(rte_pktmbuf_mtod(big, void *), rte_pktmbuf_mtod(ev, void *),
				       len);
				big->data_len = (uint16_t)len;
				big->pkt_len = len;
				*sl_ctx_meta(ctx, big) = *meta;
				rte_pktmbuf_free(ev);
				ev = big;
				meta = sl_ctx_meta(ctx, ev);
			} else if (big) {
				rte_pktmbuf_free(big);
			}
		}
		if (rte_pktmbuf_tailroom(ev) < len + 256 && ev->data_off > RTE_PKTMBUF_HEADROOM) {
			char *dst = (char *)ev->buf_addr + RTE_PKTMBUF_HEADROOM;

			memmove(dst, rte_pktmbuf_mtod(ev, char *), len);
			ev->data_off = RTE_PKTMBUF_HEADROOM;
		}
		ev->packet_type = 0;
		ev->tx_offload = 0;
		meta->kind = SL_EVENT_LINE;
		meta->raw_len = (uint16_t)len;
		meta->rec_off = 0;
		cnt[UDP_PAYLOAD_CNT_LINES]++;
		sl_emit(out, 0, ev);
	}
}

const struct sl_stage_desc sl_stage_udp_payload = {
	SL_STAGE_DESC_INIT,
	.name = "udp_payload",
	.version = "1.0.0",
	.summary = "turn a UDP packet into a line event holding its payload",
	.params = udp_payload_params,
	.counters = udp_payload_counters,
	.init = udp_payload_init,
	.process = udp_payload_process,
};
