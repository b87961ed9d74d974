/*
 * Loader test fixture: a plugin as an older ABI minor would have built it, its descriptor
 * ending before the `state` member (size = offsetof(struct sl_stage_desc, state)). The
 * descriptor is followed in memory by a non-NULL pointer, so a loader that read past
 * `size` would see garbage state ops; the registry must hand out a copy whose state is
 * NULL. Built only for tests.
 */
#include <sluice/stage.h>

static int old_minor_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			  struct sl_error *err)
{
	*conf = NULL;
	return 0;
}

static void old_minor_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			      struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++)
		sl_emit(out, 0, in->ev[i]);
}

/* The short descriptor is the head of a full one whose tail holds a bogus pointer. */
static const struct sl_stage_desc old_minor_stage = {
	.abi_major = SL_ABI_MAJOR,
	.abi_minor = 0,
	.size = offsetof(struct sl_stage_desc, state),
	.name = "old_minor",
	.version = "0.9",
	.summary = "test fixture with a descriptor from an older ABI minor",
	.init = old_minor_init,
	.process = old_minor_process,
	.state = (const struct sl_state_ops *)&old_minor_stage,
};

SL_PLUGIN(&old_minor_stage);
