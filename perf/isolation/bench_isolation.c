/*
 * bench_isolation: the per-event cost of one stage of a pipeline file, called directly on
 * bursts of a chosen size, for perf/bench-isolation.sh (native filter, bpf_filter JIT, and
 * the same filter with isolation: process). It loads the file as `sluice run` does (so a
 * sandboxed stage gets its zygote before the EAL), starts the EAL, makes record events
 * {"status": 200|404|500|503} with a raw line in front, and times only the stage's
 * process calls with the TSC; building and freeing the events is outside the timing.
 * A burst larger than SL_BURST_MAX (64) is handed over as several calls of at most 64,
 * as the runtime would. Prints: stage burst events ns_per_event kept.
 *
 * usage: bench_isolation FILE STAGE BURST EVENTS [-- EAL args]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "base/diag.h"
#include "config/config.h"
#include "eal/eal.h"
#include "event/event.h"
#include "plugin/registry.h"

static int make_events(struct rte_mempool *pool, int meta_offset, struct rte_mbuf **ev, unsigned n,
		       uint64_t seq)
{
	static const int status[] = { 200, 404, 500, 503, 200, 200, 301, 502 };

	if (rte_pktmbuf_alloc_bulk(pool, ev, n) != 0)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = ev[i];
		struct sl_meta *meta = sl_event_meta(meta_offset, m);
		int s = status[(seq + i) % 8];
		char *p = rte_pktmbuf_mtod(m, char *);
		int raw = snprintf(p, 64, "GET /item/%llu HTTP/1.1 %d",
				   (unsigned long long)(seq + i), s);
		struct sl_rec_writer w;
		uint32_t len;

		sl_rec_begin(&w, p + raw, 128);
		sl_rec_put_int(&w, "status", s);
		len = sl_rec_end(&w);
		m->data_len = (uint16_t)(raw + len);
		m->pkt_len = m->data_len;
		memset(meta, 0, sizeof(*meta));
		meta->event_id = seq + i;
		meta->kind = SL_EVENT_RECORD;
		meta->raw_len = (uint16_t)raw;
		meta->rec_off = (uint16_t)raw;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sl_registry *reg = NULL;
	struct sl_config *cfg = NULL;
	struct sl_diag d = { 0 };
	struct sl_eal_info info;
	struct rte_mempool *pool;
	int meta_offset, idx, eal_argc = 1;
	char *eal_argv[64] = { argv[0] };
	unsigned burst, n_events;
	uint64_t counters[SL_COUNTER_MAX] = { 0 }, tsc = 0, kept = 0, done = 0;
	struct sl_emit *o;
	struct sl_ctx_host host_priv;
	struct sl_ctx ctx;
	const struct sl_config_node *node;

	if (argc < 5) {
		fprintf(stderr, "usage: %s FILE STAGE BURST EVENTS [-- EAL args]\n", argv[0]);
		return 2;
	}
	burst = (unsigned)atoi(argv[3]);
	n_events = (unsigned)atoi(argv[4]);
	if (burst == 0 || burst > 4096 || n_events == 0)
		return 2;
	for (int i = 5; i < argc && eal_argc < 63; i++)
		if (strcmp(argv[i], "--") != 0)
			eal_argv[eal_argc++] = argv[i];
	struct sl_config_opts opts = {
		.load_plugins = true,
		.keep_stage_conf = true,
		.host = &sl_host_table,
	};
	if (sl_registry_create(&reg) < 0)
		return 1;
	opts.registry = reg;
	if (sl_config_load_file(argv[1], &opts, &cfg, &d) < 0) {
		sl_diag_print(&d, stderr);
		return 1;
	}
	idx = sl_config_find(cfg, argv[2]);
	if (idx < 0 || cfg->nodes[idx].role != SL_NODE_STAGE) {
		fprintf(stderr, "%s: no stage '%s'\n", argv[1], argv[2]);
		return 1;
	}
	node = &cfg->nodes[idx];
	if (sl_eal_init(eal_argc, eal_argv, &info) < 0)
		return 1;
	struct sl_event_pool_conf pc = { .name = "bench",
					 .n_events = 8192,
					 .data_room = SL_EVENT_SMALL_ROOM,
					 .big_room = SL_EVENT_DATA_ROOM,
					 .cache = 256,
					 .socket = -1 };
	if (sl_event_pool_create(&pc, &pool, &meta_offset) < 0)
		return 1;
	o = calloc(1, sizeof(*o));
	if (!o)
		return 1;
	memset(&host_priv, 0, sizeof(host_priv));
	host_priv.pool = pool;
	memset(&ctx, 0, sizeof(ctx));
	ctx.host = &sl_host_table;
	ctx.meta_offset = meta_offset;
	ctx.lcore = (uint16_t)rte_lcore_id();
	ctx.tsc_hz = rte_get_tsc_hz();
	ctx.counters = counters;
	ctx.name = node->name;
	ctx.host_priv = &host_priv;
	ctx.fields_mask = ~0ull;
	while (done < n_events) {
		struct rte_mbuf *ev[4096];
		unsigned n = burst;

		if (make_events(pool, meta_offset, ev, n, done) < 0)
			return 1;
		for (unsigned off = 0; off < n; off += SL_BURST_MAX) {
			struct sl_burst b = { ev + off,
					      (uint16_t)(n - off < SL_BURST_MAX ? n - off
										: SL_BURST_MAX) };
			uint64_t t0;

			memset(o->n, 0, sizeof(o->n));
			o->n_drop = 0;
			o->n_ports = node->n_outputs;
			ctx.now_tsc = t0 = rte_rdtsc();
			node->stage->process(node->stage_conf, &ctx, &b, o);
			tsc += rte_rdtsc() - t0;
			kept += o->n[0];
			for (uint16_t p = 0; p < o->n_ports; p++)
				rte_pktmbuf_free_bulk(o->port[p], o->n[p]);
			rte_pktmbuf_free_bulk(o->drop, o->n_drop);
		}
		done += n;
	}
	printf("%s %u %llu %.1f %llu\n", node->kind, burst, (unsigned long long)done,
	       (double)tsc * 1e9 / (double)rte_get_tsc_hz() / (double)done,
	       (unsigned long long)kept);
	sl_config_destroy(cfg);
	sl_registry_destroy(reg);
	sl_eal_cleanup();
	return 0;
}
