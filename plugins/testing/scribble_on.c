/*
 * scribble_on: a test plugin that behaves like a compromised sandbox child. It takes
 * `marker: STRING` and `value: INT` and passes every event through, except one whose raw
 * bytes contain the marker: on that one it writes `value` over every 32-bit word of the
 * shared region's header (dataplane/resilience/sandbox_shm.h: the handshake words, where
 * sluice once read the child's pid to kill it) and then spins forever. Run it only with
 * `isolation: process` (its events' buffers are then in the region); the watchdog must
 * kill this child, and nothing else, at the budget (tests/integration/isolation.sh).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

#include "../../dataplane/resilience/sandbox_shm.h"

#include "marker.h"

struct scribble_conf {
	int32_t value;
	void *marker; /* marker.h's conf */
};

static volatile int scribble_on_forever = 1;

static const char *const scribble_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc scribble_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "scribble over the sandbox region and hang on an event whose raw bytes contain this" },
	{ "value", SL_PARAM_INT, true, NULL, "the 32-bit value written over the region's header" },
	{ NULL },
};

static int scribble_on_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			    struct sl_error *err)
{
	const struct sl_arg *v = sl_args_get(args, "value");
	struct scribble_conf *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	rc = marker_init(host, args, &c->marker, err);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->value = (int32_t)v->i;
	*conf = c;
	return 0;
}

static void scribble_on_fini(void *conf)
{
	struct scribble_conf *c = conf;

	marker_fini(c->marker);
	free(c);
}

static void scribble_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				struct sl_emit *out)
{
	const struct scribble_conf *c = conf;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];

		if (marker_hit(c->marker, ctx, ev)) {
			/* Event i's buffer is the region's data[i]. */
			char *base = (char *)ev->buf_addr - offsetof(struct sb_shm, data) -
				     (size_t)i * SB_SLOT_ROOM;
			int32_t *w = (int32_t *)base;

			for (size_t k = 0; k < offsetof(struct sb_shm, counters) / 4; k++)
				w[k] = c->value;
			while (scribble_on_forever)
				;
		}
		sl_emit(out, 0, ev);
	}
}

static const struct sl_stage_desc scribble_on_stage = {
	SL_STAGE_DESC_INIT,
	.name = "scribble_on",
	.version = "1.0.0",
	.summary = "test plugin: pass events through; on `marker`, write over the sandbox "
		   "region's header and hang",
	.params = scribble_on_params,
	.outputs = scribble_on_outputs,
	.flags = SL_STAGE_F_FORWARDS,
	.init = scribble_on_init,
	.process = scribble_on_process,
	.fini = scribble_on_fini,
};

SL_PLUGIN(&scribble_on_stage);
