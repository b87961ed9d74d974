/*
 * Loader test fixture: a plugin that claims ABI major SL_ABI_MAJOR + 1. Its constructor
 * sets SLUICE_TEST_WRONG_ABI_RAN=1 in the environment, so plugin_test.c can prove the
 * loader rejected it from the file bytes alone, before dlopen could run any of its code.
 * Not a usable plugin; built only for tests.
 */
#include <stdlib.h>

#include <sluice/stage.h>

__attribute__((constructor)) static void wrong_abi_ctor(void)
{
	setenv("SLUICE_TEST_WRONG_ABI_RAN", "1", 1);
}

static int wrong_abi_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			  struct sl_error *err)
{
	*conf = NULL;
	return 0;
}

static void wrong_abi_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			      struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++)
		sl_emit(out, 0, in->ev[i]);
}

static const struct sl_stage_desc wrong_abi_stage = {
	.abi_major = SL_ABI_MAJOR + 1,
	.abi_minor = 0,
	.size = sizeof(struct sl_stage_desc),
	.name = "wrong_abi",
	.version = "0",
	.summary = "test fixture with a future ABI major",
	.init = wrong_abi_init,
	.process = wrong_abi_process,
};

__attribute__((visibility("default"), used))
const uint32_t sluice_plugin_abi[2] = { SL_ABI_MAJOR + 1, 0 };
__attribute__((visibility("default"), used))
const struct sl_stage_desc *const sluice_plugin_stages[] = { &wrong_abi_stage, NULL };
