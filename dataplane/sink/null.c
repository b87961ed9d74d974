/*
 * The `null` sink: takes every event, counts it and returns it to the pool. For
 * benchmarks and for pipelines whose output is their counters. Runs on the worker lcore
 * that drives it; owns only its counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_mbuf.h>

#include "event/event.h"
#include "sink.h"

struct null_sink {
	uint64_t n_events, n_bytes;
};

static const struct sl_param_desc null_params[] = {
	{ NULL },
};

static int null_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		       struct sl_error *err)
{
	*self = calloc(1, sizeof(struct null_sink));
	return *self ? 0 : -ENOMEM;
}

static uint16_t null_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct null_sink *s = self;

	for (uint16_t i = 0; i < n; i++)
		s->n_bytes += ev[i]->pkt_len;
	s->n_events += n;
	sl_event_free_bulk(ev, n);
	return n;
}

static int null_flush(void *self, bool final)
{
	return 0;
}

static void null_summary_line(void *self, char *buf, size_t len)
{
	struct null_sink *s = self;

	snprintf(buf, len, "events=%" PRIu64 " bytes=%" PRIu64, s->n_events, s->n_bytes);
}

static void null_destroy(void *self)
{
	free(self);
}

const struct sl_sink_ops sl_sink_null = {
	.type = "null",
	.summary = "discard events, counting them",
	.params = null_params,
	.lanes = true,
	.create = null_create,
	.write = null_write,
	.flush = null_flush,
	.summary_line = null_summary_line,
	.destroy = null_destroy,
};
