/*
 * spin: a deliberately CPU-heavy test stage for the autoscaler (tests/integration/scale.sh,
 * perf/bench-scale.sh). It passes every event through unchanged on its default output
 * after spinning `spin_cycles` TSC cycles for it (rte_rdtsc, no system call), so one
 * replica handles at most tsc_hz / spin_cycles events per second and more replicas on
 * more cores handle proportionally more. Stateless: any replica may take any event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include <sluice/stage.h>

enum { SPIN_CTR_PASSED = 0 };

static const char *const spin_counters[] = { "passed", NULL };

static const struct sl_param_desc spin_params[] = {
	{ "spin_cycles", SL_PARAM_INT, false, "10000", "TSC cycles to spend on each event" },
	{ NULL },
};

struct spin_conf {
	uint64_t cycles;
};

static int spin_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		     struct sl_error *err)
{
	const struct sl_arg *a = sl_args_get(args, "spin_cycles");
	struct spin_conf *c;

	(void)host;
	if (!a || a->i < 0 || a->i > 1000000000) {
		err->key = "spin_cycles";
		snprintf(err->msg, sizeof(err->msg), "must be from 0 to 1000000000");
		return -EINVAL;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->cycles = (uint64_t)a->i;
	*conf = c;
	return 0;
}

static void spin_fini(void *conf)
{
	free(conf);
}

static void spin_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			 struct sl_emit *out)
{
	const struct spin_conf *c = conf;

	for (uint16_t i = 0; i < in->n; i++) {
		uint64_t end = rte_rdtsc() + c->cycles;

		while (rte_rdtsc() < end)
			rte_pause();
		sl_emit(out, 0, in->ev[i]);
	}
	ctx->counters[SPIN_CTR_PASSED] += in->n;
}

static const struct sl_stage_desc spin_stage = {
	SL_STAGE_DESC_INIT,
	.name = "spin",
	.version = "1.0.0",
	.summary = "test plugin: pass events through after spinning spin_cycles each",
	.params = spin_params,
	.counters = spin_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = spin_init,
	.process = spin_process,
	.fini = spin_fini,
};

SL_PLUGIN(&spin_stage);
