/*
 * The sluice command: parse arguments, load and check the pipeline (before the EAL, so
 * `validate` and a refused `run` never touch hugepages or cores), bring up the EAL, build
 * the pipeline, run it on the lcores until its finite sources are delivered or a signal
 * drains it, then print the per-node summary. Exit status: 0 success, 1 runtime failure,
 * 2 usage or pipeline errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "base/diag.h"
#include "base/log.h"
#include "config/config.h"
#include "control/control.h"
#include "control/ledger.h"
#include "control/message.h"
#include "eal/eal.h"
#include "port/gen_cli.h"
#include "port/port.h"
#include "event/event.h"
#include "graph/pipeline.h"
#include "plugin/registry.h"
#include "resilience/blame.h"
#include "resilience/privilege.h"
#include "resilience/supervise.h"
#include "sink/dlq.h"
#include "sink/sink.h"
#include "source/source.h"

#define SLUICE_VERSION "0.1.0"

/* What `sluice run` does with no file: the first thing a newcomer sees. */
static const char default_pipeline[] =
	"# Built-in default: a seeded synthetic nginx access log, parsed and counted by status.\n"
	"sources:\n"
	"  demo_log: { type: gen, count: 500000, seed: 42 }\n"
	"stages:\n"
	"  parse: { use: nginx_parse, inputs: [demo_log] }\n"
	"  by_status: { use: count, inputs: [parse], key: status, window: all }\n"
	"sinks:\n"
	"  table: { type: stdout, inputs: [by_status], format: table }\n"
	"  unparsed: { type: \"null\", inputs: [parse.errors] }\n";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice <command> [options]\n"
		"\n"
		"commands:\n"
		"  run [PIPELINE] [--stats-json PATH] [--replicas N] [-- EAL options]\n"
		"        run a pipeline file (no file: the built-in default demo) until its "
		"finite\n"
		"        sources are delivered; SIGINT/SIGTERM/SIGHUP drain in-flight events and "
		"exit.\n"
		"        --replicas N: stages, splittable sources (file, gen) and null sinks that\n"
		"        set no `replicas` run N replicas, in lanes: replica k on lcore k, so\n"
		"        events stay on one core (output order across replicas is not kept)\n"
		"        --supervise: run it as a child and restart it when it dies of a\n"
		"        signal (fault in a stage), with backoff from --restart-delay MS (100);\n"
		"        give up after --max-crashes K (5) within --crash-window S (60).\n"
		"        --blame-file PATH: where a fault's blame record goes (default: the\n"
		"        runtime directory, blame-PID.json)\n"
		"        --user U [--group G]: as root, switch to U (and G) once started, with\n"
		"        no capabilities on any thread (overrides `user:` / `group:`)\n"
		"  validate PIPELINE       check a pipeline file; print every problem as "
		"file:line:col\n"
		"  stages [PIPELINE]       list stage, source and sink kinds with their "
		"parameters\n"
		"                          (with a file: including the stages of its plugins)\n"
		"  default                 print the built-in default pipeline\n"
		"  gen --device DEV [...]  send generated packets out of a port and report what\n"
		"                          comes back (sluice gen --help)\n"
		"  ctl COMMAND [--node NAME]\n"
		"                          send one control request (ping, version, nodes,\n"
		"                          stats, stop) to a running sluice; print the reply\n"
		"  stats [--json] [--node NAME]\n"
		"                          counters of a running sluice (table, or JSON)\n"
		"  top [--interval S] [-n N]\n"
		"                          live per-node view of a running sluice\n"
		"  cost LEDGER [--price P] [--json]\n"
		"                          the bill of the last run in a ledger (`ledger: PATH`):\n"
		"                          per node events, busy and held core-seconds, cycles\n"
		"                          per event, cost per million events at P per core-hour\n"
		"  scale STAGE N|auto      pin an autoscaled stage (scale:) of a running sluice\n"
		"                          to N replicas, or give it back to the autoscaler\n"
		"  swap STAGE PLUGIN.so    replace a plugin stage's code in a running sluice\n"
		"                          (same parameters, outputs and counters; no event lost)\n"
		"  reload [PIPELINE]       apply a changed pipeline file (default: the running\n"
		"                          one) to a running sluice: changed stages switch at a\n"
		"                          burst boundary; anything invalid changes nothing\n"
		"  tap NODE[.OUTPUT] [--limit N] [--rate R]\n"
		"                          sampled events a node sends (all its outputs, or one)\n"
		"                          as JSON lines: N events (100), at most R a second "
		"(100)\n"
		"        run, ctl, stats, top, tap, swap and reload take --socket PATH; the\n"
		"        clients otherwise find the one sluice running as this user\n"
		"        (docs/control.md)\n"
		"\n"
		"options:\n"
		"  -v, --verbose           more log output (repeat for debug)\n"
		"  -q, --quiet             errors only, no summary\n"
		"      --log-format F      logfmt (default) or json lines on stderr; DPDK's own\n"
		"                          messages come through the same stream\n"
		"  -h, --help              this help\n"
		"      --version           print the version\n"
		"\n"
		"EAL options after `--` go to DPDK unchanged, e.g. -- --lcores '0@0,(1-3)@1'.\n"
		"Without hugepages sluice falls back to --no-huge by itself.\n");
}

struct cli {
	const char *cmd;
	const char *file;
	const char *arg2; /* second word: only commands that take one check it */
	const char *stats_json;
	int verbose, quiet;
	unsigned replicas;
	const char *socket, *node;
	bool json;
	double interval_s;
	unsigned count;
	int64_t tap_limit;
	double tap_rate;
	double price;
	int eal_argc;
	char **eal_argv;
	bool supervise;
	const char *blame_file;
	const char *user, *group;
	struct sl_supervise_opts sup;
	const char *pipeline_text; /* `sluice gen`: the pipeline it assembled */
};

/* A decimal in lo..hi. 0 or -EINVAL. */
static int cli_uint(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || *s == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int cli_parse(int argc, char **argv, struct cli *c)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "stats-json", required_argument, NULL, 's' },
		{ "replicas", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "supervise", no_argument, NULL, 0x100 },
		{ "blame-file", required_argument, NULL, 0x101 },
		{ "max-crashes", required_argument, NULL, 0x102 },
		{ "crash-window", required_argument, NULL, 0x103 },
		{ "restart-delay", required_argument, NULL, 0x104 },
		{ "user", required_argument, NULL, 0x105 },
		{ "group", required_argument, NULL, 0x106 },
		{ "limit", required_argument, NULL, 0x110 },
		{ "rate", required_argument, NULL, 0x111 },
		{ "price", required_argument, NULL, 0x112 },
		{ NULL, 0, NULL, 0 },
	};
	int opt, own = argc;

	memset(c, 0, sizeof(*c));
	c->interval_s = 1.0;
	c->tap_limit = SL_CTL_TAP_LIMIT_DEFAULT;
	c->tap_rate = SL_CTL_TAP_RATE_DEFAULT;
	c->price = SL_COST_DEFAULT_PRICE;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			own = i;
			c->eal_argc = argc - i - 1;
			c->eal_argv = argv + i + 1;
			break;
		}
	/* GNU getopt permutes: options may come before or after the command and its file. */
	while ((opt = getopt_long(own, argv, "hvqn:", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			c->cmd = "help";
			return 0;
		case 'V':
			c->cmd = "version";
			return 0;
		case 'v':
			c->verbose++;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case 's':
			c->stats_json = optarg;
			break;
		case 'r':
			if (cli_uint(optarg, 1, 1024, &c->replicas) < 0) {
				fprintf(stderr, "sluice: --replicas takes 1..1024, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'S':
			c->socket = optarg;
			break;
		case 'L':
			if (sl_log_format_parse(optarg) < 0) {
				fprintf(stderr, "sluice: --log-format takes logfmt or json\n");
				return -EINVAL;
			}
			sl_log_set_format(sl_log_format_parse(optarg));
			break;
		case 'N':
			c->node = optarg;
			break;
		case 0x100:
			c->supervise = true;
			break;
		case 0x101:
			c->blame_file = optarg;
			break;
		case 0x105:
			c->user = optarg;
			break;
		case 0x106:
			c->group = optarg;
			break;
		case 0x102:
			if (cli_uint(optarg, 1, 1000, &c->sup.max_crashes) < 0) {
				fprintf(stderr, "sluice: --max-crashes takes 1..1000\n");
				return -EINVAL;
			}
			break;
		case 0x103: {
			unsigned s;

			if (cli_uint(optarg, 1, 86400, &s) < 0) {
				fprintf(stderr, "sluice: --crash-window takes 1..86400 seconds\n");
				return -EINVAL;
			}
			c->sup.window_s = s;
			break;
		}
		case 0x104:
			if (cli_uint(optarg, 1, 60000, &c->sup.delay_ms) < 0) {
				fprintf(stderr, "sluice: --restart-delay takes 1..60000 ms\n");
				return -EINVAL;
			}
			break;
		case 'j':
			c->json = true;
			break;
		case 'i': {
			char *end;
			double v = strtod(optarg, &end);
			if (*end || !(v >= 0.05 && v <= 3600)) {
				fprintf(stderr, "sluice: --interval takes 0.05..3600 seconds\n");
				return -EINVAL;
			}
			c->interval_s = v;
			break;
		}
		case 0x110: {
			unsigned v;
			if (cli_uint(optarg, 1, SL_CTL_TAP_LIMIT_MAX, &v) < 0) {
				fprintf(stderr, "sluice: --limit takes 1..%d events\n",
					SL_CTL_TAP_LIMIT_MAX);
				return -EINVAL;
			}
			c->tap_limit = v;
			break;
		}
		case 0x111: {
			char *end;
			double v = strtod(optarg, &end);
			if (*end || !(v >= SL_CTL_TAP_RATE_MIN && v <= SL_CTL_TAP_RATE_MAX)) {
				fprintf(stderr,
					"sluice: --rate takes events per second, from %g to %g\n",
					SL_CTL_TAP_RATE_MIN, SL_CTL_TAP_RATE_MAX);
				return -EINVAL;
			}
			c->tap_rate = v;
			break;
		}
		case 0x112: {
			char *end;
			double v = strtod(optarg, &end);
			if (*end || !(v >= 0 && v <= 1e6)) {
				fprintf(stderr, "sluice: --price takes a price per core-hour, 0 or "
						"more\n");
				return -EINVAL;
			}
			c->price = v;
			break;
		}
		case 'n':
			if (cli_uint(optarg, 0, 1000000, &c->count) < 0) {
				fprintf(stderr, "sluice: -n takes a count of refreshes, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind >= own)
		return -EINVAL;
	c->cmd = argv[optind++];
	if (optind < own)
		c->file = argv[optind++];
	/* A second word for the commands that take two (swap STAGE PLUGIN). */
	if (optind < own)
		c->arg2 = argv[optind++];
	return optind < own ? -EINVAL : 0;
}

static int load_config(const struct cli *c, struct sl_registry *reg, bool keep,
		       struct sl_config **cfg)
{
	struct sl_config_opts o = {
		.registry = reg,
		.load_plugins = true,
		.keep_stage_conf = keep,
		.host = &sl_host_table,
		.default_replicas = c->replicas,
	};
	struct sl_diag d = { 0 };
	int ret;

	if (c->file)
		ret = sl_config_load_file(c->file, &o, cfg, &d);
	else if (c->pipeline_text)
		ret = sl_config_load_buffer("<sluice gen>", c->pipeline_text,
					    strlen(c->pipeline_text), &o, cfg, &d);
	else
		ret = sl_config_load_buffer("<default>", default_pipeline, strlen(default_pipeline),
					    &o, cfg, &d);
	if (ret < 0) {
		sl_diag_print(&d, stderr);
		if (d.n == 0)
			fprintf(stderr, "%s: cannot load: %s\n", c->file ? c->file : "<default>",
				strerror(-ret));
	}
	sl_diag_fini(&d);
	return ret;
}

static const char *param_type_name(enum sl_param_type t)
{
	switch (t) {
	case SL_PARAM_STR:
		return "string";
	case SL_PARAM_INT:
		return "int";
	case SL_PARAM_BOOL:
		return "bool";
	case SL_PARAM_LIST:
		return "list";
	case SL_PARAM_MAP:
		return "map";
	}
	return "?";
}

static void print_params(const struct sl_param_desc *p)
{
	for (; p && p->name; p++)
		printf("      %-16s %-7s %s%s%s%s%s\n", p->name, param_type_name(p->type),
		       p->required ? "(required) " : "", p->help ? p->help : "",
		       p->def ? "  [default: " : "", p->def ? p->def : "", p->def ? "]" : "");
}

static int cmd_stages(const struct cli *c, struct sl_registry *reg)
{
	const struct sl_stage_desc *d;
	const char *origin;
	struct sl_config *cfg = NULL;

	if (c->file && load_config(c, reg, false, &cfg) < 0)
		return 2;
	printf("stages:\n");
	for (uint32_t i = 0; (d = sl_registry_at(reg, i, &origin)); i++) {
		printf("  %-14s %-8s %s  (%s)\n", d->name, d->version, d->summary, origin);
		if (d->outputs) {
			printf("      outputs:");
			for (const char *const *o = d->outputs; *o; o++)
				printf(" %s", *o);
			printf("\n");
		}
		print_params(d->params);
	}
	/* forward is the dpdk sink written among the stages (config.c, docs/packets.md). */
	printf("  %-14s %-8s %s  (built-in: the dpdk sink as a stage)\n", "forward", "",
	       "send packets out of a DPDK port");
	print_params(sl_sink_dpdk.params);
	printf("sources:\n");
	for (uint32_t i = 0; sl_source_at(i); i++) {
		printf("  %-14s %s\n", sl_source_at(i)->type, sl_source_at(i)->summary);
		print_params(sl_source_at(i)->params);
	}
	printf("sinks:\n");
	for (uint32_t i = 0; sl_sink_at(i); i++) {
		printf("  %-14s %s\n", sl_sink_at(i)->type, sl_sink_at(i)->summary);
		print_params(sl_sink_at(i)->params);
	}
	sl_config_destroy(cfg);
	return 0;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * DPDK's log stream, routed into ours: DPDK formats each message into this unbuffered
 * cookie stream (under the FILE lock, so one writer at a time); complete lines go to
 * sl_log with DPDK's level and component "dpdk".
 */
static ssize_t dpdk_log_write(void *cookie, const char *buf, size_t size)
{
	static char line[1024];
	static size_t len;

	for (size_t i = 0; i < size; i++) {
		if (buf[i] != '\n' && len < sizeof(line) - 1) {
			line[len++] = buf[i];
			continue;
		}
		if (buf[i] != '\n')
			continue; /* the rest of an over-long line is cut */
		{
			int lv = (int)rte_log_cur_msg_loglevel();

			/* DPDK: 1 emerg .. 4 err, 5 warning, 6 notice, 7 info, 8 debug. */
			lv = lv <= (int)RTE_LOG_ERR ? SL_LOG_ERR : lv - 1;
			sl_log(lv > SL_LOG_DEBUG ? SL_LOG_DEBUG : lv, "dpdk", "%.*s", (int)len,
			       line);
		}
		len = 0;
	}
	return (ssize_t)size;
}

static void dpdk_log_route(void)
{
	cookie_io_functions_t io = { .write = dpdk_log_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	rte_openlog_stream(f);
}

static void on_signal(int signo)
{
	sl_pipeline_signal(signo);
}

/* `control: { linger: T }`: keep the control socket and /metrics up after the end so a
 * last scrape sees the final counters; a signal cuts it short. */
static void control_linger(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	SL_INFO("run", "pipeline ended; control stays up for %u ms (linger)", ms);
	nanosleep(&ts, NULL);
}

/* --stats-json is written after the run: make sure now, before anything runs, that it can
 * be. An existing file is opened for writing and left as it is; a new one is created and
 * removed again, so a refused or failed run leaves no file behind. */
static int stats_json_check(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0) {
		SL_ERR("run", "--stats-json %s: cannot write it: %s (nothing was run)", path,
		       strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int cmd_run(const struct cli *c, struct sl_registry *reg)
{
	struct sl_ledger *ledger = NULL;
	struct sl_eal_info info;
	int eal_argc;
	char **eal_argv;
	struct sl_pipeline *p = NULL;
	struct sl_config *cfg = NULL;
	struct sl_control *ctl = NULL;
	struct sl_control_opts co;
	struct timespec t0, t1, t2;
	struct sigaction sa;
	char msg[512];
	int ret, status = 0;

	if (load_config(c, reg, true, &cfg) < 0)
		return 2;
	if (c->stats_json && stats_json_check(c->stats_json) < 0) {
		sl_config_destroy(cfg);
		return 2;
	}
	sl_dlq_bind(cfg, reg);
	/* Now (after the load, which forks any sandbox zygote: it keeps the default actions),
	 * long before the control socket is served: a `stop` (SIGTERM to ourselves) or a
	 * signal from whoever saw the process start must drain, not kill, also while the EAL
	 * starts; one that arrives before the run is seen at its first tick. SIGHUP (a closed
	 * terminal, a supervisor passing it on) drains too. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed stdout (`| head`) is the stdout sink's error to report, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Before the EAL makes threads, so all of them inherit it (docs/resilience.md). */
	if (sl_priv_prepare(msg, sizeof(msg)) < 0)
		SL_WARN("run", "%s", msg);
	dpdk_log_route();
	/* Ports named in the file become --vdev / -a EAL options (dataplane/port). */
	if (sl_port_plan(cfg, c->eal_argc, c->eal_argv, &eal_argc, &eal_argv) < 0) {
		sl_config_destroy(cfg);
		return 2;
	}
	ret = sl_eal_init(eal_argc, eal_argv, &info);
	if (ret < 0) {
		sl_config_destroy(cfg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ret = sl_pipeline_create(cfg, &p);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	SL_INFO("run", "EAL up in %.1f ms, pipeline built in %.1f ms", ms_between(&t0, &t1),
		ms_between(&t1, &t2));
	if (ret < 0) {
		SL_ERR("run", "cannot build the pipeline: %s", strerror(-ret));
		status = 1;
		goto out;
	}
	sl_control_opts_from_config(cfg, c->socket, &co);
	co.version = SLUICE_VERSION;
	co.config_file = c->file;
	co.default_replicas = c->replicas;
	co.host = &sl_host_table;
	ret = sl_control_start(&co, p, cfg, &ctl);
	if (ret < 0 && (co.socket_path || co.metrics)) {
		/* Asked for by name: not serving it is an error, before anything runs. */
		status = 1;
		goto out;
	}
	if (ret < 0)
		SL_WARN("run", "running without a control socket");
	/* Opened before privileges go, like every other file the run writes. */
	if (cfg->ledger && sl_ledger_start(cfg->ledger, p, 1.0, &ledger) < 0) {
		status = 1;
		goto out;
	}
	/* Fail fast with blame (docs/resilience.md); every lcore gets an alternate stack. */
	if (sl_blame_setup(cfg, reg, c->blame_file) == 0) {
		rte_eal_mp_remote_launch(sl_blame_thread_init, NULL, SKIP_MAIN);
		rte_eal_mp_wait_lcore();
	}
	/* Everything privileged is done: hugepages, ports, files, the control socket. */
	ret = sl_priv_drop(c->user ? c->user : cfg->user, c->group ? c->group : cfg->group, msg,
			   sizeof(msg));
	if (ret < 0) {
		if (!c->user && !c->group && (cfg->user_line || cfg->group_line))
			fprintf(stderr, "%s:%u:%u: %s\n", cfg->file,
				cfg->user_line ? cfg->user_line : cfg->group_line,
				cfg->user_line ? cfg->user_column : cfg->group_column, msg);
		else
			SL_ERR("run", "privilege drop failed: %s", msg);
		status = 1;
		goto out;
	}
	if (ret > 0)
		SL_NOTICE("run", "%s", msg);
	else if (c->user || cfg->user)
		SL_INFO("run",
			"running as user %s (uid %u, gid %u), no capabilities, on every thread",
			c->user ? c->user : cfg->user, (unsigned)getuid(), (unsigned)getgid());
	SL_INFO("run", "running %s on %u lcore(s)%s", c->file ? c->file : "the built-in default",
		info.n_lcores, info.no_huge ? " without hugepages" : "");
	ret = sl_pipeline_run(p);
	sl_control_ended(ctl);
	sl_ledger_stop(ledger); /* the final sample: counters are final now */
	ledger = NULL;
	fflush(stdout);
	if (!c->quiet)
		sl_pipeline_summary(p, stderr);
	if (c->stats_json && sl_pipeline_write_stats_json(p, c->stats_json) < 0) {
		SL_ERR("run", "cannot write %s: %s", c->stats_json, strerror(errno));
		status = 1;
	}
	if (ret < 0)
		status = 1;
	if (ctl && cfg->control.linger_ms && ret == 0)
		control_linger(cfg->control.linger_ms);
out:
	sl_ledger_stop(ledger);
	sl_blame_fini();
	sl_control_stop(ctl);
	sl_pipeline_destroy(p);
	sl_config_destroy(cfg);
	sl_eal_cleanup();
	return status;
}

/* `run --supervise`: the same command line without the supervisor's options, with a
 * --blame-file the supervisor reads, run as a child by sl_supervise. */
static int run_supervised(int argc, char **argv, struct cli *c)
{
	static const char *const own[] = { "--max-crashes", "--crash-window", "--restart-delay" };
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	char path[4096];
	int n = 0, rc;

	if (!args)
		return 1;
	if (!c->blame_file) {
		if (sl_blame_default_path(path, sizeof(path), (long)getpid()) < 0) {
			SL_ERR("supervise",
			       "no runtime directory for the blame file; give --blame-file");
			free(args);
			return 1;
		}
		c->blame_file = path;
	}
	args[n++] = argv[0];
	args[n++] = (char *)"--blame-file";
	args[n++] = (char *)c->blame_file;
	for (int i = 1; i < argc; i++) {
		bool skip =
			strcmp(argv[i], "--supervise") == 0 || strcmp(argv[i], "--blame-file") == 0;

		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				args[n++] = argv[i++];
			break;
		}
		if (strncmp(argv[i], "--blame-file=", 13) == 0)
			continue;
		for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
			size_t l = strlen(own[k]);
			if (strncmp(argv[i], own[k], l) == 0 && argv[i][l] == '=')
				skip = true;
			else if (strcmp(argv[i], own[k]) == 0)
				skip = true;
		}
		if (skip) {
			/* Options with a separate value take the next word too. */
			if (strcmp(argv[i], "--supervise") != 0 && !strchr(argv[i], '='))
				i++;
			continue;
		}
		args[n++] = argv[i];
	}
	c->sup.blame_file = c->blame_file;
	rc = sl_supervise(args, &c->sup);
	free(args);
	return rc;
}

int main(int argc, char **argv)
{
	struct sl_registry *reg = NULL;
	struct sl_config *cfg = NULL;
	struct cli c;
	int status;

	if (argc > 1 && strcmp(argv[1], "gen") == 0) {
		/* `sluice gen`: its own options make a pipeline, run as `run` runs a file. */
		struct sl_gen_cli g;

		status = sl_gen_cli_parse(argc - 1, argv + 1, &g);
		if (status != 0)
			return status > 0 ? 0 : 2;
		memset(&c, 0, sizeof(c));
		c.cmd = "run";
		c.pipeline_text = g.pipeline;
		c.stats_json = g.stats_json;
		c.eal_argc = g.eal_argc;
		c.eal_argv = g.eal_argv;
		sl_log_set_level(SL_LOG_NOTICE + g.verbose);
		if (sl_registry_create(&reg) < 0)
			return 1;
		status = cmd_run(&c, reg);
		sl_registry_destroy(reg);
		free(g.pipeline);
		return status;
	}
	if (cli_parse(argc, argv, &c) < 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(c.cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(c.cmd, "version") == 0) {
		printf("sluice %s (stage ABI %d.%d)\n", SLUICE_VERSION, SL_ABI_MAJOR, SL_ABI_MINOR);
		return 0;
	}
	if (strcmp(c.cmd, "default") == 0) {
		fputs(default_pipeline, stdout);
		return 0;
	}
	/* Clients of a running sluice: no registry, no EAL. */
	if (strcmp(c.cmd, "ctl") == 0) {
		if (!c.file) {
			fprintf(stderr, "sluice ctl: which command? (ping, version, nodes, stats, "
					"stop)\n");
			return 2;
		}
		return sl_ctl_cli_ctl(c.socket, c.file, c.node);
	}
	if (strcmp(c.cmd, "cost") == 0) {
		if (!c.file) {
			fprintf(stderr, "sluice cost: which ledger file? (`ledger: PATH` in the "
					"pipeline)\n");
			return 2;
		}
		return sl_cost_cli(c.file, c.price, c.json);
	}
	if (strcmp(c.cmd, "tap") == 0) {
		if (!c.file) {
			fprintf(stderr, "sluice tap: which node? (NODE or NODE.OUTPUT)\n");
			return 2;
		}
		return sl_ctl_cli_tap(c.socket, c.file, c.tap_limit, c.tap_rate);
	}
	if (strcmp(c.cmd, "swap") == 0) {
		if (!c.file || !c.arg2) {
			fprintf(stderr, "sluice swap: usage: sluice swap STAGE PLUGIN.so\n");
			return 2;
		}
		return sl_ctl_cli_live(c.socket, "swap", c.file, c.arg2);
	}
	if (strcmp(c.cmd, "scale") == 0) {
		if (!c.file || !c.arg2) {
			fprintf(stderr, "sluice scale: usage: sluice scale STAGE N|auto\n");
			return 2;
		}
		return sl_ctl_cli_scale(c.socket, c.file, c.arg2);
	}
	if (strcmp(c.cmd, "reload") == 0) {
		if (c.arg2) {
			fprintf(stderr, "sluice reload: unexpected argument '%s'\n", c.arg2);
			return 2;
		}
		return sl_ctl_cli_live(c.socket, "reload", NULL, c.file);
	}
	if (c.arg2) {
		fprintf(stderr, "sluice %s: unexpected argument '%s'\n", c.cmd, c.arg2);
		return 2;
	}
	if (strcmp(c.cmd, "stats") == 0 || strcmp(c.cmd, "top") == 0) {
		if (c.file) {
			fprintf(stderr, "sluice %s: unexpected argument '%s'\n", c.cmd, c.file);
			return 2;
		}
		if (strcmp(c.cmd, "stats") == 0)
			return sl_ctl_cli_stats(c.socket, c.json, c.node);
		return sl_ctl_cli_top(c.socket, c.interval_s, c.count);
	}
	sl_log_set_level(c.quiet ? SL_LOG_ERR : SL_LOG_NOTICE + c.verbose);
	if (strcmp(c.cmd, "run") == 0 && c.supervise)
		return run_supervised(argc, argv, &c);
	if (sl_registry_create(&reg) < 0) {
		SL_ERR("sluice", "cannot create the stage registry");
		return 1;
	}
	if (strcmp(c.cmd, "run") == 0) {
		status = cmd_run(&c, reg);
	} else if (strcmp(c.cmd, "validate") == 0) {
		if (!c.file) {
			fprintf(stderr, "sluice validate: which pipeline file?\n");
			status = 2;
		} else {
			status = load_config(&c, reg, false, &cfg) < 0 ? 2 : 0;
			if (status == 0)
				printf("%s: ok (%u nodes)\n", c.file, cfg->n_nodes);
			sl_config_destroy(cfg);
		}
	} else if (strcmp(c.cmd, "stages") == 0) {
		status = cmd_stages(&c, reg);
	} else {
		fprintf(stderr, "sluice: unknown command '%s'\n", c.cmd);
		usage(stderr);
		status = 2;
	}
	sl_registry_destroy(reg);
	return status;
}
