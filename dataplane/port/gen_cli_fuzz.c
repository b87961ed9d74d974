/*
 * Fuzz target for `sluice gen`'s options (sl_gen_cli_parse), which turn a command line
 * into a pipeline file: the input, split at NUL bytes, is the argument vector after "gen".
 * An accepted command's pipeline is loaded as `sluice gen` loads it. When it loads, no
 * option may have added a node or a key or moved a value: the nodes are gen and tx, with
 * rx and check when the traffic comes back, and every value written in the file is a
 * whole argument (or the part after `--opt=`), a default of the command, or the device
 * string it builds from one. Every build replays tests/fuzz/corpus/gen_cli (clang builds
 * through libFuzzer, gcc builds through tests/lib/fuzz_replay.c); -Dfuzz=true builds it
 * for fuzzing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "event/event.h"
#include "plugin/registry.h"
#include "port/gen_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 24

/* v is a whole argument, or what follows the first '=' of an option argument. */
static bool from_argv(const char *v, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *eq = argv[i][0] == '-' ? strchr(argv[i], '=') : NULL;

		if (strcmp(argv[i], v) == 0 || (eq && strcmp(eq + 1, v) == 0))
			return true;
	}
	return false;
}

/* v is an argument (or an option's value) up to its first comma: the bare port name. */
static bool port_name_from_argv(const char *v, int argc, char **argv)
{
	size_t n = strlen(v);

	for (int i = 1; i < argc; i++) {
		const char *eq = argv[i][0] == '-' ? strchr(argv[i], '=') : NULL;
		const char *a[2] = { argv[i], eq ? eq + 1 : NULL };

		for (int k = 0; k < 2; k++)
			if (a[k] && strncmp(a[k], v, n) == 0 && (a[k][n] == ',' || a[k][n] == 0))
				return true;
	}
	return false;
}

static bool value_ok(const char *node, const char *key, const char *v, int argc, char **argv)
{
	static const char pcap_dev[] = "net_pcap_gen0,rx_pcap=";

	if (strcmp(node, "gen") == 0 && strcmp(key, "device") == 0)
		return strncmp(v, pcap_dev, sizeof(pcap_dev) - 1) == 0 &&
		       from_argv(v + sizeof(pcap_dev) - 1, argc, argv);
	if (strcmp(node, "rx") == 0 && strcmp(key, "device") == 0)
		return from_argv(v, argc, argv) || port_name_from_argv(v, argc, argv);
	if (strcmp(key, "idle") == 0 && strcmp(v, "1s") == 0)
		return true;
	if (strcmp(key, "dst_port") == 0 && strcmp(v, "9") == 0)
		return true;
	if (strcmp(key, "count") == 0 && strcmp(v, "0") == 0)
		return true;
	if (strcmp(key, "loop") == 0)
		return strcmp(v, "true") == 0;
	return from_argv(v, argc, argv);
}

static void check_pipeline(const char *text, int argc, char **argv)
{
	struct sl_config_opts opts = {
		.load_plugins = false,
		.keep_stage_conf = false,
		.host = &sl_host_table,
	};
	struct sl_diag d = { 0 };
	struct sl_config *c = NULL;
	struct sl_registry *r = NULL;
	bool gen = false, tx = false, rx = false, check = false;

	if (sl_registry_create(&r) < 0)
		return;
	opts.registry = r;
	if (sl_config_load_buffer("<sluice gen>", text, strlen(text), &opts, &c, &d) == 0) {
		for (uint32_t i = 0; i < c->n_nodes; i++) {
			const struct sl_config_node *n = &c->nodes[i];
			bool *seen = strcmp(n->name, "gen") == 0     ? &gen
				     : strcmp(n->name, "tx") == 0    ? &tx
				     : strcmp(n->name, "rx") == 0    ? &rx
				     : strcmp(n->name, "check") == 0 ? &check
								     : NULL;

			if (!seen || *seen)
				__builtin_trap(); /* a node of an option's making */
			*seen = true;
			for (uint32_t k = 0; k < n->args.n; k++) {
				const struct sl_arg *a = &n->args.v[k];

				/* Written in the file (defaults have no line), and not the one
				 * key the command composes itself. */
				if (a->line == 0 || strcmp(a->key, "inputs") == 0)
					continue;
				if (!a->str || !value_ok(n->name, a->key, a->str, argc, argv))
					__builtin_trap(); /* a value an option did not give */
			}
		}
		if (!gen || !tx || rx != check)
			__builtin_trap();
		sl_config_destroy(c);
	} else if (c != NULL || d.n == 0) {
		__builtin_trap(); /* a failed load says why */
	}
	sl_diag_fini(&d);
	sl_registry_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2];
	struct sl_gen_cli g;
	int argc = 1;
	FILE *out = stdout;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	argv[0] = "gen";
	for (char *p = buf; p <= buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	/* --help and --print-pipeline write to stdout: keep the replay's output readable. */
	stdout = fopen("/dev/null", "w");
	if (stdout && sl_gen_cli_parse(argc, argv, &g) == 0) {
		check_pipeline(g.pipeline, argc, argv);
		free(g.pipeline);
	}
	if (stdout)
		fclose(stdout);
	stdout = out;
	free(buf);
	return 0;
}
