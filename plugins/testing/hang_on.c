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

#include "marker.h"

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

static void hang_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			    struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];

		if (marker_hit(conf, ctx, ev))
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
	.init = marker_init,
	.process = hang_on_process,
	.fini = marker_fini,
};

SL_PLUGIN(&hang_on_stage);
