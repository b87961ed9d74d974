/*
 * The `marker: STRING` parameter of the misbehaving test plugins (crash_on, hang_on,
 * socket_on; issue 8): each passes events through and misbehaves only on an event whose
 * raw bytes contain the marker. Header-only, so every plugin stays one self-contained
 * shared object built against the SDK alone.
 */
#ifndef SL_PLUGINS_TESTING_MARKER_H
#define SL_PLUGINS_TESTING_MARKER_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

struct marker_conf {
	size_t len;
	char marker[];
};

/* An sl_stage_init_fn: the conf is a copy of the non-empty `marker`. */
static inline int marker_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			      struct sl_error *err)
{
	const struct sl_arg *m = sl_args_get(args, "marker");
	struct marker_conf *c;
	size_t n = m && m->str ? strlen(m->str) : 0;

	if (n == 0) {
		err->key = "marker";
		snprintf(err->msg, sizeof(err->msg), "must not be empty");
		return -EINVAL;
	}
	c = malloc(sizeof(*c) + n + 1);
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->len = n;
	memcpy(c->marker, m->str, n + 1);
	*conf = c;
	return 0;
}

static inline void marker_fini(void *conf)
{
	free(conf);
}

/* Whether ev's raw bytes contain the marker. */
static inline bool marker_hit(const void *conf, const struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	const struct marker_conf *c = conf;
	const struct sl_meta *meta = sl_ctx_meta(ctx, ev);
	uint32_t raw = meta->raw_len < ev->data_len ? meta->raw_len : ev->data_len;

	return memmem(rte_pktmbuf_mtod(ev, const char *), raw, c->marker, c->len) != NULL;
}

#endif
