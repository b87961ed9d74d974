/*
 * Event pools, the meta dynfield and the host table (see event.h). An mbuf's data room
 * is sized so a typical line plus the record parsed from it fit in one mbuf; the record is
 * appended after the line in place, so no copy is made on the way from source to sink.
 * Longer lines get a big external buffer (sl_event_enlarge).
 */
#include "event.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_stack.h>

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

/*
 * The pool's private area: DPDK's pktmbuf part first (rte_pktmbuf_data_room_size and the
 * rest read it), then ours. The magic tells our pools from others (a PMD's, a test's).
 */
#define EVENT_POOL_MAGIC 0x736c7569636550ULL /* "sluicePool" */

struct event_pool_priv {
	struct rte_pktmbuf_pool_private pkt;
	uint64_t magic;
	struct rte_stack *big; /* free big buffers (LIFO); NULL without */
	void *big_mem;	       /* their mapping */
	size_t big_mem_len;
	uint16_t big_buf_len;  /* buf_len of one: headroom + big room + shared info */
	uint32_t big_line_max; /* sl_event_line_max when enlarged */
	uint32_t small_line_max;
};

static struct event_pool_priv *pool_priv(struct rte_mempool *mp)
{
	struct event_pool_priv *pp;

	if (mp->private_data_size < sizeof(struct event_pool_priv))
		return NULL;
	pp = rte_mempool_get_priv(mp);
	return pp->magic == EVENT_POOL_MAGIC ? pp : NULL;
}

static uint32_t line_max_of(unsigned room, unsigned margin)
{
	return room / 2 > margin ? room / 2 - margin : 0;
}

/* The big buffers: n of them in an anonymous mapping no one touches until a buffer is
 * used, their addresses on a lock-free stack. */
static int big_buffers_create(const struct sl_event_pool_conf *conf, struct event_pool_priv *pp)
{
	size_t buf = RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM + conf->big_room +
					    sizeof(struct rte_mbuf_ext_shared_info),
				    RTE_CACHE_LINE_SIZE);
	char name[RTE_STACK_NAMESIZE];

	if (buf > UINT16_MAX)
		return -EINVAL;
	pp->big_mem_len = buf * conf->n_events;
	pp->big_mem = mmap(NULL, pp->big_mem_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pp->big_mem == MAP_FAILED) {
		pp->big_mem = NULL;
		return -errno;
	}
	snprintf(name, sizeof(name), "%.20s_big", conf->name);
	pp->big = rte_stack_create(name, conf->n_events,
				   conf->socket < 0 ? SOCKET_ID_ANY : conf->socket, RTE_STACK_F_LF);
	if (!pp->big) {
		munmap(pp->big_mem, pp->big_mem_len);
		pp->big_mem = NULL;
		return -rte_errno;
	}
	/* Pushed from the end, so the first pops hand out the start of the mapping. */
	for (size_t i = conf->n_events; i-- > 0;) {
		void *b = (char *)pp->big_mem + i * buf;
		rte_stack_push(pp->big, &b, 1);
	}
	pp->big_buf_len = (uint16_t)buf;
	pp->big_line_max = line_max_of(conf->big_room, 0);
	return 0;
}

int sl_event_pool_create(const struct sl_event_pool_conf *conf, struct rte_mempool **out,
			 int *meta_offset)
{
	struct rte_pktmbuf_pool_private pkt = {
		.mbuf_data_room_size = (uint16_t)(conf->data_room + RTE_PKTMBUF_HEADROOM),
	};
	int socket = conf->socket < 0 ? SOCKET_ID_ANY : conf->socket;
	struct event_pool_priv *pp;
	struct rte_mempool *mp;
	int off = sl_event_meta_register();
	int ret;

	if (off < 0) {
		SL_ERR("event", "cannot register mbuf dynfield %s: %s", SL_META_DYNFIELD_NAME,
		       rte_strerror(-off));
		return off;
	}
	/* What rte_pktmbuf_pool_create does, with room for our private part. */
	mp = rte_mempool_create_empty(conf->name, conf->n_events,
				      sizeof(struct rte_mbuf) + pkt.mbuf_data_room_size,
				      conf->cache, sizeof(struct event_pool_priv), socket, 0);
	if (!mp)
		goto fail;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &pkt);
	pp = rte_mempool_get_priv(mp);
	pp->magic = EVENT_POOL_MAGIC;
	/* The margin only when a longer line has somewhere else to go. */
	pp->small_line_max = line_max_of(
		conf->data_room, conf->big_room > conf->data_room ? SL_EVENT_LINE_MARGIN : 0);
	pp->big_line_max = pp->small_line_max;
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	if (conf->big_room > conf->data_room) {
		ret = big_buffers_create(conf, pp);
		if (ret < 0) {
			SL_ERR("event", "cannot map %u big buffers of %u bytes for pool %s: %s",
			       conf->n_events, conf->big_room, conf->name, strerror(-ret));
			rte_mempool_free(mp);
			return ret;
		}
	}
	*out = mp;
	*meta_offset = off;
	return 0;
fail:
	SL_ERR("event", "cannot create event pool %s (%u events of %u bytes): %s", conf->name,
	       conf->n_events, conf->data_room, rte_strerror(rte_errno));
	rte_mempool_free(mp);
	return -ENOMEM;
}

void sl_event_pool_free(struct rte_mempool *pool)
{
	struct event_pool_priv *pp;

	if (!pool)
		return;
	pp = pool_priv(pool);
	if (pp && pp->big) {
		rte_stack_free(pp->big);
		munmap(pp->big_mem, pp->big_mem_len);
	}
	rte_mempool_free(pool);
}

uint32_t sl_event_line_max(struct rte_mempool *pool)
{
	struct event_pool_priv *pp = pool_priv(pool);

	return pp ? pp->big_line_max
		  : line_max_of(rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM, 0);
}

uint32_t sl_event_line_max_small(struct rte_mempool *pool)
{
	struct event_pool_priv *pp = pool_priv(pool);

	return pp ? pp->small_line_max
		  : line_max_of(rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM, 0);
}

static void big_buffer_free(void *addr, void *opaque)
{
	rte_stack_push(opaque, &addr, 1);
}

bool sl_event_enlarge(struct rte_mbuf *m)
{
	struct event_pool_priv *pp = m->pool ? pool_priv(m->pool) : NULL;
	struct rte_mbuf_ext_shared_info *sh;
	uint16_t len;
	void *buf;

	if (!pp || !pp->big || rte_stack_pop(pp->big, &buf, 1) != 1)
		return false;
	len = pp->big_buf_len;
	sh = rte_pktmbuf_ext_shinfo_init_helper(buf, &len, big_buffer_free, pp->big);
	/* Not DPDK memory: no IOVA, so not for a NIC to DMA (line events are not sent). */
	rte_pktmbuf_attach_extbuf(m, buf, RTE_BAD_IOVA, len, sh);
	rte_pktmbuf_reset_headroom(m);
	return true;
}

bool sl_event_grow(struct rte_mbuf *m)
{
	/* The mbuf's own buffer keeps the bytes until they are copied: attaching the big one
	 * only repoints the mbuf at it. */
	const char *old = rte_pktmbuf_mtod(m, const char *);
	uint16_t len = m->data_len;

	/* No pool: a sandbox child's event, whose slot has the big room already. */
	if (!m->pool || RTE_MBUF_HAS_EXTBUF(m) || RTE_MBUF_CLONED(m) || m->nb_segs != 1 ||
	    rte_mbuf_refcnt_read(m) != 1 || !sl_event_enlarge(m))
		return false;
	memcpy(rte_pktmbuf_mtod(m, char *), old, len);
	m->data_len = len;
	m->pkt_len = len;
	return true;
}

/* A stage logs from process, on the data path: through its replica's limiter. */
static void host_log(const struct sl_ctx *ctx, int level, const char *fmt, ...)
{
	struct sl_ctx_host *h = ctx ? ctx->host_priv : NULL;
	const char *comp = ctx && ctx->name ? ctx->name : "stage";
	char msg[512];
	va_list ap;

	if (level > sl_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h)
		sl_log_limited(&h->log_limit, level, comp, "%s", msg);
	else
		sl_log(level, comp, "%s", msg);
}

static struct rte_mbuf *event_alloc(struct sl_ctx *ctx, bool big)
{
	struct sl_ctx_host *h = ctx->host_priv;
	struct rte_mbuf *m = rte_pktmbuf_alloc(h->pool);

	if (!m) {
		h->n_alloc_fail++;
		return NULL;
	}
	if (big && !sl_event_enlarge(m)) {
		h->n_alloc_fail++;
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(sl_ctx_meta(ctx, m), 0, sizeof(struct sl_meta));
	return m;
}

/* Fresh events are for results (window closes), rare and of any size: big when there is
 * a big buffer, small otherwise. */
static struct rte_mbuf *host_event_alloc(struct sl_ctx *ctx)
{
	struct rte_mbuf *m = event_alloc(ctx, false);

	if (m)
		sl_event_enlarge(m);
	return m;
}

static struct rte_mbuf *host_event_unshare(struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	struct rte_mbuf *m;

	if (rte_mbuf_refcnt_read(ev) == 1)
		return ev;
	/* The copy gets as much room as the original: a stage writes behind the data. */
	m = event_alloc(ctx, RTE_MBUF_HAS_EXTBUF(ev));
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

/* sl_event_free_bulk: see event.h. */
#define SL_EVENT_FREE_CHUNK 64
void sl_event_free_bulk(struct rte_mbuf **ev, unsigned n)
{
	while (n) {
		struct rte_mbuf *put[SL_EVENT_FREE_CHUNK];
		struct rte_mempool *mp = ev[0]->pool;
		unsigned c = n < SL_EVENT_FREE_CHUNK ? n : SL_EVENT_FREE_CHUNK, k = 0;

		for (unsigned i = 0; i < c; i++) {
			struct rte_mbuf *m = ev[i];

			if (unlikely(m->pool != mp || m->nb_segs != 1 ||
				     (m->ol_flags & (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT)))) {
				rte_pktmbuf_free(m);
				continue;
			}
			/* The last reference (as rte_pktmbuf_prefree_seg): back to the pool with
			 * the count a fresh mbuf has. */
			if (likely(rte_mbuf_refcnt_read(m) == 1) ||
			    rte_mbuf_refcnt_update(m, -1) == 0) {
				rte_mbuf_refcnt_set(m, 1);
				put[k++] = m;
			}
		}
		if (k)
			rte_mempool_put_bulk(mp, (void *const *)put, k);
		ev += c;
		n -= c;
	}
}
