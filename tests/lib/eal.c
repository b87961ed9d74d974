/*
 * Test EAL bring-up: see eal.h. Uses the runtime's own event pool code so tests exercise
 * what `sluice run` uses.
 */
#include "eal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "eal/eal.h"
#include "event/event.h"
#include "plugin/registry.h"

struct sl_eal_info sl_test_eal_info;

void sl_test_eal_init(void)
{
	static int done;
	char *argv[] = { "-l", "0", "--no-huge", "-m", "256", "--log-level", "*:error", NULL };
	struct sl_eal_info info;

	if (done)
		return;
	/* The runtime's own bring-up: a per-process prefix whose directory goes at exit. */
	if (sl_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, &info) < 0) {
		fprintf(stderr, "test: EAL initialisation failed\n");
		exit(1);
	}
	atexit(sl_eal_cleanup);
	sl_test_eal_info = info;
	done = 1;
}

struct rte_mempool *sl_test_pool(unsigned n, unsigned data_room, int *meta_offset)
{
	struct sl_event_pool_conf conf = { .n_events = n, .data_room = data_room, .cache = 64 };
	struct rte_mempool *mp;
	static int seq;
	char name[32];

	sl_test_eal_init();
	snprintf(name, sizeof(name), "testpool%d", seq++);
	conf.name = name;
	if (sl_event_pool_create(&conf, &mp, meta_offset) < 0) {
		fprintf(stderr, "test: event pool creation failed\n");
		exit(1);
	}
	return mp;
}

struct rte_mbuf *sl_test_line_event(struct rte_mempool *pool, int meta_offset, const char *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct sl_meta *meta;
	size_t n = strlen(s);
	char *dst;

	if (!m)
		return NULL;
	dst = rte_pktmbuf_append(m, (uint16_t)n);
	if (!dst) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(dst, s, n);
	meta = sl_event_meta(meta_offset, m);
	memset(meta, 0, sizeof(*meta));
	meta->kind = SL_EVENT_LINE;
	meta->raw_len = (uint16_t)n;
	return m;
}

const struct sl_stage_desc *sl_test_builtin(const char *name)
{
	for (int i = 0; sl_builtin_stages[i]; i++)
		if (strcmp(sl_builtin_stages[i]->name, name) == 0)
			return sl_builtin_stages[i];
	fprintf(stderr, "test: no built-in stage %s\n", name);
	exit(1);
}

struct sl_ctx sl_test_ctx(struct sl_ctx_host *priv, struct rte_mempool *pool, int meta_offset,
			  uint64_t *counters, const char *name)
{
	priv->pool = pool;
	return (struct sl_ctx){ .host = &sl_host_table,
				.meta_offset = meta_offset,
				.counters = counters,
				.name = name,
				.host_priv = priv,
				.fields_mask = ~0ull };
}

void sl_test_numbered(struct rte_mempool *pool, int meta_offset, struct rte_mbuf **ev, unsigned n,
		      uint64_t first)
{
	if (rte_pktmbuf_alloc_bulk(pool, ev, n) != 0) {
		fprintf(stderr, "test: pool short of %u events\n", n);
		exit(1);
	}
	for (unsigned i = 0; i < n; i++)
		sl_event_meta(meta_offset, ev[i])->event_id = first + i;
}

unsigned sl_test_drain_numbered(struct rte_ring *r, int meta_offset, uint64_t *next_id)
{
	void *ev;
	unsigned n = 0;

	while (rte_ring_dequeue(r, &ev) == 0) {
		struct rte_mbuf *m = ev;
		uint64_t id = sl_event_meta(meta_offset, m)->event_id;

		/* Order is kept: ids arrive as sent. */
		if (id != *next_id) {
			fprintf(stderr,
				"test: event %" PRIu64 " dequeued where %" PRIu64 " was due\n", id,
				*next_id);
			exit(1);
		}
		(*next_id)++;
		rte_pktmbuf_free(m);
		n++;
	}
	return n;
}
