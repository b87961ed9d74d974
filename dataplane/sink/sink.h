/*
 * Sink kinds (`type:` under `sinks:`). A sink takes events from its input ring (the worker
 * task dequeues bursts and calls write), formats them and writes them out. write may take
 * fewer events than offered: the task holds the rest and offers them again (backpressure).
 * flush pushes buffered output; with final it must complete before returning. One lcore
 * drives a sink instance at a time. A sink kind with lanes may run in replicas (`replicas:`,
 * `sluice run --replicas N`): one instance per replica, each with its own input ring on
 * the lcore of the producers' replica of the same index (docs/architecture.md,
 * "Placement"); the runtime sums their counters. The table of kinds is in sink.c.
 */
#ifndef SL_SINK_H
#define SL_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "../source/source.h"

enum sl_sink_format {
	SL_FORMAT_RAW = 0, /**< the original line bytes + '\n' (records: their raw line) */
	SL_FORMAT_JSONL,   /**< one JSON object per record + '\n' */
	SL_FORMAT_TABLE,   /**< stdout only: an aligned table of all records, at the end */
};

struct sl_sink_ops {
	const char *type;
	const char *summary;
	const struct sl_param_desc *params;
	/** Instances may run side by side, one per lane (replica), each taking a share of
	 *  the events in no particular order between them: only for a sink whose output
	 *  has no single order or target to keep (null). Others refuse `replicas:` > 1. */
	bool lanes;
	int (*create)(const struct sl_args *args, const struct sl_io_env *env, void **self,
		      struct sl_error *err);
	/** Optional: check parameters at load time without opening anything (validate).
	 *  0 or -errno with err set, as create. */
	int (*check)(const struct sl_args *args, struct sl_error *err);
	/** Take up to n events (the sink releases them); return how many it took. */
	uint16_t (*write)(void *self, struct rte_mbuf **ev, uint16_t n);
	/** Push buffered output; final = end of input, must complete. 0 or -errno. */
	int (*flush)(void *self, bool final);
	/** Optional: the acknowledgement path of end-to-end delivery. How many of the events
	 *  write took (counted from the first, in the order taken, including ones it could not
	 *  encode) are durable per the sink's own policy; never decreases, and stops growing
	 *  after a write error (those events were not delivered). The runtime acknowledges
	 *  events to their sources up to this count; called on the sink's lcore, after write
	 *  and flush, often (keep it cheap: no syscall when nothing completed). NULL: an event
	 *  is durable once write took it (stdout, null). */
	uint64_t (*durable)(void *self);
	void (*summary_line)(void *self, char *buf, size_t len);
	void (*destroy)(void *self);
};

const struct sl_sink_ops *sl_sink_find(const char *type);
const struct sl_sink_ops *sl_sink_at(uint32_t i);

extern const struct sl_sink_ops sl_sink_file;
extern const struct sl_sink_ops sl_sink_stdout;
extern const struct sl_sink_ops sl_sink_null;
extern const struct sl_sink_ops sl_sink_dpdk;
extern const struct sl_sink_ops sl_sink_pktcheck;
extern const struct sl_sink_ops sl_sink_metrics;

/** Parse `format:`; -1 when unknown. */
int sl_sink_format_parse(const char *s);

/** Format one event as fmt (SL_FORMAT_RAW or SL_FORMAT_JSONL) plus '\n' into out.
 *  raw: the raw_len bytes at offset 0 (a record event with raw_len 0 is written as JSON);
 *  jsonl: the record as one JSON object, a line event as {"line":"..."}. Returns bytes
 *  written, -1 when the record cannot be encoded, -2 when out is too small. Any thread. */
long sl_sink_format_event(enum sl_sink_format fmt, int meta_offset, struct rte_mbuf *ev, char *out,
			  size_t cap);

/** As sl_sink_format_event, with the event's id (meta->event_id, decimal): jsonl objects
 *  get "event_id" as their first field (a record's own top-level event_id is left out),
 *  raw lines a prefix "ID " (so a reader splits at the first space). */
long sl_sink_format_event_id(enum sl_sink_format fmt, int meta_offset, struct rte_mbuf *ev,
			     char *out, size_t cap);

/** mkdir -p of path's parent directory (mode 0755). 0, or -errno with a sentence naming
 *  the directory in msg. Control path. */
int sl_sink_mkdirs(const char *path, char *msg, size_t msg_len);

#endif
