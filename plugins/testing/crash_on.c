/*
 * crash_on: a test plugin that fails the way a buggy trusted stage does. It takes
 * `marker: STRING` and passes every event through unchanged on its default output, except
 * one whose raw bytes contain the marker: on that one it writes through an invalid
 * pointer (address 0x10), a real SIGSEGV with a fault address, as a NULL-dereferencing
 * plugin would. It declares a `failed` output (unused in-process) so the pipeline of issue
 * 8 (`inputs: [risky.failed]`) validates. Used by tests/integration/supervise.sh and the
 * blame tests; loaded like any plugin (`plugins: [build/plugins/testing/crash_on.so]`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

#include "marker.h"

enum { CRASH_ON_CTR_PASSED = 0 };

/* Where the bad write goes; volatile so the compiler cannot see the address is bad. */
static volatile uintptr_t crash_on_addr = 0x10;

static const char *const crash_on_counters[] = { "passed", NULL };
static const char *const crash_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc crash_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "crash (SIGSEGV) on an event whose raw bytes contain this string" },
	{ NULL },
};

static void crash_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			     struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];

		if (marker_hit(conf, ctx, ev)) {
			/* A plain store through a pointer the compiler cannot judge, so it is
			 * neither removed nor turned into a trap instruction. */
			*(volatile int *)crash_on_addr = 1;
		}
		sl_emit(out, 0, ev);
	}
	ctx->counters[CRASH_ON_CTR_PASSED] += in->n;
}

static const struct sl_stage_desc crash_on_stage = {
	SL_STAGE_DESC_INIT,
	.name = "crash_on",
	.version = "1.0.0",
	.summary = "test plugin: pass events through; segfault on one containing `marker`",
	.params = crash_on_params,
	.outputs = crash_on_outputs,
	.counters = crash_on_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = marker_init,
	.process = crash_on_process,
	.fini = marker_fini,
};

SL_PLUGIN(&crash_on_stage);
