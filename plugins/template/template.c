/*
 * The template plugin: the smallest complete Sluice plugin, meant to be copied. It
 * exports one stage, `template`, which passes every event through unchanged on its
 * default output and counts them in its declared counter `events`. It shows the whole
 * contract: a const descriptor, init building the (here empty) immutable configuration,
 * process called on worker lcores with a burst, and SL_PLUGIN exporting the ABI words and
 * the descriptor table. Loaded by the runtime's registry (dataplane/plugin) via
 * `plugins: [path/to/template.so]` in a pipeline file; it links against nothing but libc.
 */
#include <sluice/stage.h>

/* Index of each declared counter in ctx->counters, in the order of template_counters. */
enum { TEMPLATE_CTR_EVENTS = 0 };

static const char *const template_counters[] = { "events", NULL };

static int template_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			 struct sl_error *err)
{
	/* Nothing to configure: a stage with parameters would parse them into *conf here. */
	*conf = NULL;
	return 0;
}

static void template_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			     struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++)
		sl_emit(out, 0, in->ev[i]);
	ctx->counters[TEMPLATE_CTR_EVENTS] += in->n;
}

static const struct sl_stage_desc template_stage = {
	SL_STAGE_DESC_INIT,
	.name = "template",
	.version = "1.0.0",
	.summary = "pass events through unchanged and count them",
	.counters = template_counters,
	.init = template_init,
	.process = template_process,
};

SL_PLUGIN(&template_stage);
