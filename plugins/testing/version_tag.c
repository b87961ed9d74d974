/*
 * version_tag: a test plugin for `sluice swap` and `sluice reload` (docs/control.md). It
 * overwrites the first two bytes of each event's raw line with its version tag and
 * passes the event on, so the output shows which version handled each event. Built
 * three times from this file: version_tag_v1.so and version_tag_v2.so (tags "v1", "v2";
 * swappable for each other) and version_tag_v3_params.so (tag "v3", one more parameter:
 * a swap to it must be refused). `note: fail` makes init fail; `note: log` logs a
 * warning for every event (the data-path log limiter's test, control_logs.sh). Used by
 * tests/integration/control_swap.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sluice/stage.h>

#ifndef VERSION_TAG
#error "build with -DVERSION_TAG=\"vN\""
#endif

static const char *const version_tag_counters[] = { "tagged", NULL };

static const struct sl_param_desc version_tag_params[] = {
	{ "note", SL_PARAM_STR, false, "", "free text, unused (for reload tests)" },
#ifdef VERSION_TAG_EXTRA_PARAM
	{ "extra", SL_PARAM_INT, false, "0", "a parameter the other versions lack" },
#endif
	{ NULL },
};

static int version_tag_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			    struct sl_error *err)
{
	const struct sl_arg *note = sl_args_get(args, "note");

	if (note && note->str && strcmp(note->str, "fail") == 0) {
		err->key = "note";
		snprintf(err->msg, sizeof(err->msg), "asked to fail (note: fail)");
		return -EINVAL;
	}
	/* The conf is the tag, compiled in; "log" as the note: log every event. */
	*conf = (void *)(note && note->str && strcmp(note->str, "log") == 0 ? "log" : VERSION_TAG);
	return 0;
}

static void version_tag_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];

		if (ev->data_len >= 2)
			memcpy(rte_pktmbuf_mtod(ev, char *), VERSION_TAG, 2);
		if (conf != (const void *)VERSION_TAG)
			ctx->host->log(ctx, 4, "event %u of this burst", i);
		sl_emit(out, 0, ev);
	}
	ctx->counters[0] += in->n;
}

static const struct sl_stage_desc version_tag_stage = {
	SL_STAGE_DESC_INIT,
	.name = "version_tag",
	.version = VERSION_TAG,
	.summary = "test plugin: write the version tag over the first two bytes of each line",
	.params = version_tag_params,
	.counters = version_tag_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = version_tag_init,
	.process = version_tag_process,
};

SL_PLUGIN(&version_tag_stage);
