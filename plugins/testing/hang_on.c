/*
 * hang_on: a test plugin that hangs the way a stage stuck in a loop does. It takes
 * `marker: STRING` and passes every event through unchanged on its default output, except
 * one whose raw bytes contain the marker: on that one it spins forever (a loop the
 * compiler cannot remove, no system call). Only a watchdog gets it out: run it with
 * `isolation: process` (tests/integration/isolation.sh). It declares a `failed` output so
 * `inputs: [x.failed]` validates either way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

enum { HANG_ON_CTR_PASSED = 0 };

/* Read in the loop so the compiler must keep it (an empty side-effect-free loop may be
 * assumed to end). */
static volatile int hang_on_forever = 1;

static const char *const hang_on_counters[] = { "passed", NULL };
static const char *const hang_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc hang_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "loop forever on an event whose raw bytes contain this string" },
	{ NULL },
};

struct hang_on_conf {
	size_t len;
	char marker[];
};

static int hang_on_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			struct sl_error *err)
{
	const struct sl_arg *m = sl_args_get(args, "marker");
	struct hang_on_conf *c;
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

static void hang_on_fini(void *conf)
{
	free(conf);
}

static void hang_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			    struct sl_emit *out)
{
	const struct hang_on_conf *c = conf;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		const struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		uint32_t raw = meta->raw_len < ev->data_len ? meta->raw_len : ev->data_len;

		if (memmem(rte_pktmbuf_mtod(ev, const char *), raw, c->marker, c->len))
			while (hang_on_forever)
				;
		sl_emit(out, 0, ev);
	}
	ctx->counters[HANG_ON_CTR_PASSED] += in->n;
}

static const struct sl_stage_desc hang_on_stage = {
	SL_STAGE_DESC_INIT,
	.name = "hang_on",
	.version = "1.0.0",
	.summary = "test plugin: pass events through; hang on one containing `marker`",
	.params = hang_on_params,
	.outputs = hang_on_outputs,
	.counters = hang_on_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = hang_on_init,
	.process = hang_on_process,
	.fini = hang_on_fini,
};

SL_PLUGIN(&hang_on_stage);
