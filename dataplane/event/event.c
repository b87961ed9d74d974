/*
 * Event pools, the meta dynfield and the host table (see event.h). The pool's data room
 * is sized so a typical line plus the record parsed from it fit in one mbuf; the record is
 * appended after the line in place, so no copy is made on the way from source to sink.
 */
#include "event.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "base/log.h"

int sl_event_meta_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = SL_META_DYNFIELD_NAME,
		.size = sizeof(struct sl_meta),
		.align = __alignof__(struct sl_meta),
	};
	int off = rte_mbuf_dynfield_register(&desc);

	return off < 0 ? -rte_errno : off;
}

int sl_event_pool_create(const struct sl_event_pool_conf *conf, struct rte_mempool **out,
			 int *meta_offset)
{
	struct rte_mempool *mp;
	int off = sl_event_meta_register();

	if (off < 0) {
		SL_ERR("event", "cannot register mbuf dynfield %s: %s", SL_META_DYNFIELD_NAME,
		       rte_strerror(-off));
		return off;
	}
	mp = rte_pktmbuf_pool_create(conf->name, conf->n_events, conf->cache, 0,
				     (uint16_t)(conf->data_room + RTE_PKTMBUF_HEADROOM),
				     conf->socket < 0 ? SOCKET_ID_ANY : conf->socket);
	if (!mp) {
		SL_ERR("event", "cannot create event pool %s (%u events of %u bytes): %s",
		       conf->name, conf->n_events, conf->data_room, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	*out = mp;
	*meta_offset = off;
	return 0;
}

static void host_log(const struct sl_ctx *ctx, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_log(level, ctx && ctx->name ? ctx->name : "stage", "%s", msg);
}

static struct rte_mbuf *host_event_alloc(struct sl_ctx *ctx)
{
	struct sl_ctx_host *h = ctx->host_priv;
	struct rte_mbuf *m = rte_pktmbuf_alloc(h->pool);

	if (!m) {
		h->n_alloc_fail++;
		return NULL;
	}
	memset(sl_ctx_meta(ctx, m), 0, sizeof(struct sl_meta));
	return m;
}

static struct rte_mbuf *host_event_unshare(struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	struct rte_mbuf *m;

	if (rte_mbuf_refcnt_read(ev) == 1)
		return ev;
	m = host_event_alloc(ctx);
	if (m) {
		/* Single-segment events: copy the bytes and the metadata. */
		memcpy(rte_pktmbuf_mtod(m, void *), rte_pktmbuf_mtod(ev, void *), ev->data_len);
		m->data_len = ev->data_len;
		m->pkt_len = ev->data_len;
		*sl_ctx_meta(ctx, m) = *sl_ctx_meta(ctx, ev);
	} else {
		((struct sl_ctx_host *)ctx->host_priv)->n_unshare_drop++;
	}
	rte_pktmbuf_free(ev);
	return m;
}

const struct sl_host sl_host_table = {
	.abi_major = SL_ABI_MAJOR,
	.abi_minor = SL_ABI_MINOR,
	.size = sizeof(struct sl_host),
	.log = host_log,
	.event_alloc = host_event_alloc,
	.event_unshare = host_event_unshare,
};
