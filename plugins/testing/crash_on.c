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

struct crash_on_conf {
	size_t len;
	char marker[];
};

static int crash_on_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			 struct sl_error *err)
{
	const struct sl_arg *m = sl_args_get(args, "marker");
	struct crash_on_conf *c;
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

static void crash_on_fini(void *conf)
{
	free(conf);
}

static void crash_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			     struct sl_emit *out)
{
	const struct crash_on_conf *c = conf;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		const struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		uint32_t raw = meta->raw_len < ev->data_len ? meta->raw_len : ev->data_len;

		if (memmem(rte_pktmbuf_mtod(ev, const char *), raw, c->marker, c->len)) {
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
	.init = crash_on_init,
	.process = crash_on_process,
	.fini = crash_on_fini,
};

SL_PLUGIN(&crash_on_stage);
