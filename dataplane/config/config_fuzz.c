/*
 * Fuzz target for the pipeline loader: any bytes go through sl_config_load_buffer with the
 * built-in registry (plugins only checked for form, stage init run and fini'ed at once),
 * and everything is freed. Every build replays tests/fuzz/corpus/config (clang builds through
 * libFuzzer, gcc builds through tests/lib/fuzz_replay.c); -Dfuzz=true builds it for fuzzing.
 * A crash, leak, hang or sanitizer report is a bug; a diagnostic is the expected outcome for
 * most inputs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "event/event.h"
#include "plugin/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_config_opts opts = {
		.load_plugins = false,
		.keep_stage_conf = false,
		.host = &sl_host_table,
	};
	struct sl_diag d = { 0 };
	struct sl_config *c = NULL;
	struct sl_registry *r = NULL;

	if (sl_registry_create(&r) < 0)
		return 0;
	opts.registry = r;
	if (sl_config_load_buffer("fuzz.yaml", (const char *)data, size, &opts, &c, &d) == 0) {
		/* A config that loads is consistent: every input points at a node with that
		 * output port, and every node can be found by its name. */
		for (uint32_t i = 0; i < c->n_nodes; i++) {
			const struct sl_config_node *n = &c->nodes[i];

			if (sl_config_find(c, n->name) != (int)i)
				__builtin_trap();
			for (uint32_t k = 0; k < n->n_inputs; k++)
				if (n->inputs[k].node >= c->n_nodes ||
				    n->inputs[k].port >= c->nodes[n->inputs[k].node].n_outputs)
					__builtin_trap();
		}
		/* The control block's values are within their documented ranges. */
		if (c->control.stall_after_ms < 100 || c->control.stall_after_ms > 3600000 ||
		    c->control.linger_ms > 3600000 ||
		    (c->control.socket && strlen(c->control.socket) > 107))
			__builtin_trap();
		sl_config_destroy(c);
	} else if (c != NULL || d.n == 0) {
		/* A failed load returns no config and says why. */
		__builtin_trap();
	}
	sl_diag_fini(&d);
	sl_registry_destroy(r);
	return 0;
}
