/*
 * `sluice gen`: the built-in generator against a port, as a command. It reads its own
 * options and assembles the pipeline they describe (a pktgen source, or a capture replayed
 * at a rate, into a dpdk sink on the port; a dpdk source on the same or another port into
 * a pktcheck sink), which main.c then runs like any pipeline file. Control path only.
 */
#ifndef SL_PORT_GEN_CLI_H
#define SL_PORT_GEN_CLI_H

#include <stdio.h>

/** What `sluice gen` runs, from its arguments (argv[0] is "gen"). */
struct sl_gen_cli {
	char *pipeline;		/**< the pipeline file text (malloc'd) */
	const char *stats_json; /**< --stats-json PATH, or NULL */
	int verbose;		/**< -v count */
	int eal_argc;		/**< the words after `--` */
	char **eal_argv;
};

/** Parse `sluice gen` arguments into g. 0, 1 when --help was printed, or -EINVAL after a
 *  message on stderr. */
int sl_gen_cli_parse(int argc, char **argv, struct sl_gen_cli *g);

/** The usage text of `sluice gen`. */
void sl_gen_cli_usage(FILE *f);

#endif
