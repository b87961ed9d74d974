/*
 * `sluice gen` (gen_cli.h): turns the command's options into a pipeline file, so the
 * generator, the ports and the report are exactly those of a pipeline run with
 * `sluice run` (docs/packets.md, "sluice gen"). Every value goes into the YAML between
 * double quotes, so no value can add a key or end its mapping (`--rate "1k, count: 5"` is
 * a rate the loader refuses, not a count); here values are checked only for what would
 * end the quotes or is not allowed in them (quotes, backslashes, control characters).
 * Everything else is checked by the pipeline loader, whose messages then name the
 * option's value. Control thread only.
 */
#include "gen_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void sl_gen_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice gen --device DEV [options] [-- EAL options]\n"
		"\n"
		"Send generated packets (or a capture) out of DEV and report what comes back\n"
		"on the receiving port: sent, received, lost, reordered, latency p50/p99/p99.9.\n"
		"\n"
		"  --device DEV        port to send on (EAL device string: net_memif0,role=...)\n"
		"  --rx-device DEV     port the traffic comes back on (default: DEV itself, or\n"
		"                      none for a net_null DEV); `none` sends only\n"
		"  --rate R            packets per second (1M, 500k); 0 = as fast as it goes\n"
		"  --bitrate B         bits per second on the wire instead of --rate (10G)\n"
		"  --size S            frame bytes without FCS (60..9000) or imix (default 60)\n"
		"  --flows N           flows (default 1)\n"
		"  --count N           packets (default 1000000; 0 = until --duration or SIGINT)\n"
		"  --duration D        stop sending after D (5s, 500ms)\n"
		"  --dst-port P        UDP destination port (default 9)\n"
		"  --seed N            payload seed (default 1)\n"
		"  --pcap FILE         replay this classic pcap instead (at --rate; --loop)\n"
		"  --loop              replay the capture until --duration or SIGINT\n"
		"  --idle D            the receiving side ends after D without a packet "
		"(default 1s)\n"
		"  --stats-json PATH   also write the run's counters as JSON\n"
		"  --print-pipeline    print the pipeline it would run, and exit\n"
		"  -v                  more log output\n");
}

/* A value that goes into the YAML between double quotes, where a quote or a backslash
 * would end or escape them and a control character is not allowed. */
static int gen_value_ok(const char *opt, const char *v)
{
	bool ctl = false;

	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		ctl |= *c < 0x20 || *c == 0x7f;
	if (!*v || ctl || strpbrk(v, "\"\\")) {
		fprintf(stderr,
			"sluice gen: %s: '%s' is empty or holds a quote, backslash or control "
			"character (line break, tab, ...)\n",
			opt, v);
		return -EINVAL;
	}
	return 0;
}

struct gen_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void gen_add(struct gen_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *q = realloc(b->p, cap);

		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
}

int sl_gen_cli_parse(int argc, char **argv, struct sl_gen_cli *g)
{
	enum {
		O_DEVICE = 0x200,
		O_RX,
		O_RATE,
		O_BITRATE,
		O_SIZE,
		O_FLOWS,
		O_COUNT,
		O_DURATION,
		O_DST_PORT,
		O_SEED,
		O_PCAP,
		O_LOOP,
		O_IDLE,
		O_STATS,
		O_PRINT,
	};
	static const struct option opts[] = {
		{ "device", required_argument, NULL, O_DEVICE },
		{ "rx-device", required_argument, NULL, O_RX },
		{ "rate", required_argument, NULL, O_RATE },
		{ "bitrate", required_argument, NULL, O_BITRATE },
		{ "size", required_argument, NULL, O_SIZE },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "count", required_argument, NULL, O_COUNT },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "dst-port", required_argument, NULL, O_DST_PORT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "loop", no_argument, NULL, O_LOOP },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "stats-json", required_argument, NULL, O_STATS },
		{ "print-pipeline", no_argument, NULL, O_PRINT },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = NULL, *rx = NULL, *rate = NULL, *bitrate = NULL, *size = NULL,
		   *flows = NULL, *count = NULL, *duration = NULL, *dst_port = "9", *seed = NULL,
		   *pcap = NULL, *idle = "1s";
	bool loop = false, print = false;
	struct gen_buf b = { 0 };
	int opt, own = argc, name_len;

	memset(g, 0, sizeof(*g));
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			own = i;
			g->eal_argc = argc - i - 1;
			g->eal_argv = argv + i + 1;
			break;
		}
	optind = 0; /* GNU getopt: a full reset, whatever scanned argv before */
	while ((opt = getopt_long(own, argv, "hv", opts, NULL)) != -1) {
		const char **slot = NULL;

		switch (opt) {
		case 'h':
			sl_gen_cli_usage(stdout);
			return 1;
		case 'v':
			g->verbose++;
			continue;
		case O_LOOP:
			loop = true;
			continue;
		case O_PRINT:
			print = true;
			continue;
		case O_STATS:
			g->stats_json = optarg;
			continue;
		case O_DEVICE:
			slot = &device;
			break;
		case O_RX:
			slot = &rx;
			break;
		case O_RATE:
			slot = &rate;
			break;
		case O_BITRATE:
			slot = &bitrate;
			break;
		case O_SIZE:
			slot = &size;
			break;
		case O_FLOWS:
			slot = &flows;
			break;
		case O_COUNT:
			slot = &count;
			break;
		case O_DURATION:
			slot = &duration;
			break;
		case O_DST_PORT:
			slot = &dst_port;
			break;
		case O_SEED:
			slot = &seed;
			break;
		case O_PCAP:
			slot = &pcap;
			break;
		case O_IDLE:
			slot = &idle;
			break;
		default:
			sl_gen_cli_usage(stderr);
			return -EINVAL;
		}
		if (gen_value_ok(opts[opt - O_DEVICE].name, optarg) < 0)
			return -EINVAL;
		*slot = optarg;
	}
	if (optind < own) {
		fprintf(stderr, "sluice gen: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!device) {
		fprintf(stderr, "sluice gen: which port? (--device DEV, e.g. "
				"net_memif0,role=client,socket=/run/memif.sock)\n");
		return -EINVAL;
	}
	if (pcap && (bitrate || size || flows || seed)) {
		fprintf(stderr, "sluice gen: --pcap replays its frames as they are: --bitrate, "
				"--size, --flows and --seed do not apply\n");
		return -EINVAL;
	}
	if (pcap && strchr(pcap, ',')) {
		fprintf(stderr,
			"sluice gen: --pcap %s: net_pcap's arguments are separated by "
			"commas, so its file name cannot hold one\n",
			pcap);
		return -EINVAL;
	}
	if (loop && !pcap) {
		fprintf(stderr, "sluice gen: --loop replays a capture (--pcap FILE)\n");
		return -EINVAL;
	}
	if (rx && strncmp(rx, "net_null", 8) == 0) {
		fprintf(stderr,
			"sluice gen: --rx-device %s hands out endless frames of its own and "
			"never goes quiet: nothing could be checked (--rx-device none sends "
			"only)\n",
			rx);
		return -EINVAL;
	}
	if (rate && bitrate) {
		fprintf(stderr, "sluice gen: give --rate or --bitrate, not both\n");
		return -EINVAL;
	}

	gen_add(&b, "# sluice gen\nsources:\n");
	if (pcap) {
		/* The replaying port must be a net_pcap vdev of its own. */
		gen_add(&b, "  gen: { type: dpdk, device: \"net_pcap_gen0,rx_pcap=%s\"", pcap);
		if (rate)
			gen_add(&b, ", rate: \"%s\"", rate);
		if (loop)
			gen_add(&b, ", loop: true");
		gen_add(&b, " }\n");
	} else {
		gen_add(&b, "  gen: { type: pktgen, dst_port: \"%s\"", dst_port);
		if (count)
			gen_add(&b, ", count: \"%s\"", count);
		else if (duration)
			gen_add(&b, ", count: 0");
		if (rate)
			gen_add(&b, ", rate: \"%s\"", rate);
		if (bitrate)
			gen_add(&b, ", bitrate: \"%s\"", bitrate);
		if (size)
			gen_add(&b, ", size: \"%s\"", size);
		if (flows)
			gen_add(&b, ", flows: \"%s\"", flows);
		if (seed)
			gen_add(&b, ", seed: \"%s\"", seed);
		if (duration)
			gen_add(&b, ", duration: \"%s\"", duration);
		gen_add(&b, " }\n");
	}
	/* The receiving side names the port by its bare name when it is the sending one. A
	 * net_null port hands out endless frames of its own and is never quiet, so by default
	 * it only sends: checking its RX would never end. */
	name_len = (int)strcspn(device, ",");
	if (!rx && strncmp(device, "net_null", 8) == 0) {
		fprintf(stderr,
			"sluice gen: %.*s hands out endless frames of its own: sending only "
			"(as with --rx-device none)\n",
			name_len, device);
		rx = "none";
	}
	if (!rx)
		gen_add(&b, "  rx: { type: dpdk, device: \"%.*s\", idle: \"%s\" }\n", name_len,
			device, idle);
	else if (strcmp(rx, "none") != 0)
		gen_add(&b, "  rx: { type: dpdk, device: \"%s\", idle: \"%s\" }\n", rx, idle);
	gen_add(&b, "sinks:\n  tx: { type: dpdk, device: \"%s\", inputs: [gen] }\n", device);
	if (!rx || strcmp(rx, "none") != 0)
		gen_add(&b, "  check: { type: pktcheck, inputs: [rx], dst_port: \"%s\" }\n",
			dst_port);
	if (b.oom) {
		free(b.p);
		fprintf(stderr, "sluice gen: out of memory\n");
		return -ENOMEM;
	}
	if (print) {
		fputs(b.p, stdout);
		free(b.p);
		return 1;
	}
	g->pipeline = b.p;
	return 0;
}
