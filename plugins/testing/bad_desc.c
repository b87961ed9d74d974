/*
 * Loader test fixture: a plugin with the right ABI whose only descriptor has no process
 * callback, so sl_stage_desc_check must reject it after dlopen and the registry must not
 * list its stage. Built only for tests.
 */
#include <sluice/stage.h>

static int bad_desc_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			 struct sl_error *err)
{
	*conf = NULL;
	return 0;
}

static const struct sl_stage_desc bad_desc_stage = {
	SL_STAGE_DESC_INIT,    .name = "bad_desc",
	.version = "0",	       .summary = "test fixture without a process callback",
	.init = bad_desc_init,
};

SL_PLUGIN(&bad_desc_stage);
