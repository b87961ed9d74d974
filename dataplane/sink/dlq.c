/*
 * The `dlq` sink: a dead-letter queue file. Every event it takes becomes one JSON line
 * (resilience/dlq_format.h) with the stage that sent it, the stage's kind, version and
 * plugin path, the output it left on, the reason (the "error" of its record, as the line
 * parsers write it; else the output's name), the time, the event id, its source, its
 * record and its original bytes. create runs on the control thread and resolves what is
 * fixed per sink (its one input stage); write, flush and summary_line run on the one worker
 * lcore that drives the sink. It owns the file descriptor and one 1 MiB buffer, written
 * with write(2) when full and at every flush: one system call per buffer, none per event.
 * Dead letters are rare by nature, so this trades the file sink's io_uring pipelining for
 * simplicity. The file is opened O_APPEND by default: a restarted pipeline adds to it.
 */
#include "dlq.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "base/log.h"
#include "plugin/registry.h"
#include "resilience/dlq_format.h"

#define DLQ_BUF_BYTES (1u << 20)

struct dlq_sink {
	int fd;
	int meta_offset;
	bool fsync;
	char *buf;
	size_t len;
	uint64_t base_ns, base_tsc, tsc_hz;
	/* Fixed per sink: what its input is. */
	struct sl_dlq_str stage, use, version, plugin, output;
	const struct sl_config *cfg; /* for source names; NULL when unbound */
	int err;
	uint64_t n_events, n_bytes, n_too_large, n_write_errors, n_discarded;
	char *path;
};

static const struct sl_config *dlq_cfg;
static const struct sl_registry *dlq_reg;

void sl_dlq_bind(const struct sl_config *cfg, const struct sl_registry *reg)
{
	dlq_cfg = cfg;
	dlq_reg = reg;
}

static const struct sl_param_desc dlq_params[] = {
	{ "path", SL_PARAM_STR, true, NULL, "dead-letter file (JSON lines)" },
	{ "format", SL_PARAM_STR, false, "jsonl", "jsonl (the only format so far)" },
	{ "mkdir", SL_PARAM_BOOL, false, "true", "create missing parent directories" },
	{ "append", SL_PARAM_BOOL, false, "true",
	  "append to the file (a restarted pipeline keeps earlier dead letters)" },
	{ "fsync", SL_PARAM_BOOL, false, "false", "fsync at every flush (about every 100 ms)" },
	{ NULL },
};

static struct sl_dlq_str dlq_str(const char *s)
{
	return (struct sl_dlq_str){ s, s ? (uint32_t)strlen(s) : 0 };
}

static void dlq_error(struct dlq_sink *s, int err)
{
	s->n_write_errors++;
	if (!s->err) {
		s->err = err;
		SL_ERR("dlq", "%s: write failed: %s; discarding further dead letters", s->path,
		       strerror(-err));
	}
}

static void dlq_write_out(struct dlq_sink *s)
{
	size_t done = 0;

	while (done < s->len && !s->err) {
		ssize_t r = write(s->fd, s->buf + done, s->len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			dlq_error(s, r < 0 ? -errno : -EIO);
		else
			done += (size_t)r;
	}
	s->len = 0;
}

/* The reason: the record's "error" string when it has one, else the output's name. */
static struct sl_dlq_str dlq_reason(const struct dlq_sink *s, struct sl_rec rec)
{
	struct sl_val v;

	if (rec.len && sl_rec_find(rec, "error", 5, &v) && v.type == SL_VAL_STR && v.s.len)
		return (struct sl_dlq_str){ v.s.p, v.s.len };
	return s->output;
}

static uint16_t dlq_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct dlq_sink *s = self;
	uint64_t now_ns = s->base_ns +
			  (uint64_t)((double)(rte_rdtsc() - s->base_tsc) * 1e9 / (double)s->tsc_hz);

	if (s->err) {
		s->n_discarded += n;
		rte_pktmbuf_free_bulk(ev, n);
		return n;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = ev[i];
		const struct sl_meta *meta = sl_event_meta(s->meta_offset, m);
		const char *data = rte_pktmbuf_mtod(m, const char *);
		uint32_t raw = meta->raw_len < m->data_len ? meta->raw_len : m->data_len;
		struct sl_rec rec = { NULL, 0 };
		struct sl_dlq_entry e = {
			.time_ns = now_ns,
			.event_id = meta->event_id,
			.stage = s->stage,
			.use = s->use,
			.version = s->version,
			.plugin = s->plugin,
			.output = s->output,
			.raw = { data, raw },
			.truncated = meta->flags & SL_META_F_TRUNCATED,
		};
		long w;

		if (meta->kind == SL_EVENT_RECORD && meta->rec_off < m->data_len) {
			rec.p = (const uint8_t *)data + meta->rec_off;
			rec.len = m->data_len - meta->rec_off;
			e.record = rec.p;
			e.record_len = rec.len;
		} else if (meta->kind != SL_EVENT_LINE && meta->kind != SL_EVENT_RECORD) {
			e.raw.len = m->data_len; /* a packet: the whole frame */
		}
		e.reason = dlq_reason(s, rec);
		if (s->cfg && meta->source < s->cfg->n_nodes &&
		    s->cfg->nodes[meta->source].role == SL_NODE_SOURCE)
			e.source = dlq_str(s->cfg->nodes[meta->source].name);
		w = sl_dlq_format(&e, s->buf + s->len, DLQ_BUF_BYTES - s->len);
		if (w == -2 && s->len) {
			dlq_write_out(s);
			w = sl_dlq_format(&e, s->buf, DLQ_BUF_BYTES);
		}
		if (w < 0) {
			/* Cannot happen with 8 KiB events; counted rather than trusted. */
			s->n_too_large++;
			continue;
		}
		s->len += (size_t)w;
		s->n_events++;
		s->n_bytes += (uint64_t)w;
	}
	rte_pktmbuf_free_bulk(ev, n);
	return n;
}

static int dlq_flush(void *self, bool final)
{
	struct dlq_sink *s = self;

	if (s->len)
		dlq_write_out(s);
	if (s->fsync && !s->err && fdatasync(s->fd) < 0 && errno != EINVAL)
		dlq_error(s, -errno);
	return s->err;
}

static void dlq_summary_line(void *self, char *buf, size_t len)
{
	struct dlq_sink *s = self;

	snprintf(buf, len,
		 "events=%" PRIu64 " bytes=%" PRIu64 " too_large=%" PRIu64 " write_errors=%" PRIu64
		 " discarded=%" PRIu64,
		 s->n_events, s->n_bytes, s->n_too_large, s->n_write_errors, s->n_discarded);
}

static void dlq_destroy(void *self)
{
	struct dlq_sink *s = self;

	if (!s)
		return;
	if (s->fd >= 0) {
		dlq_flush(s, true);
		close(s->fd);
	}
	free(s->buf);
	free(s->path);
	free(s);
}

static int dlq_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	const struct sl_arg *format = sl_args_get(args, "format");

	if (!path || !path->str || !path->str[0]) {
		err->key = "path";
		snprintf(err->msg, sizeof(err->msg), "a file path is required");
		return -EINVAL;
	}
	if (format && format->str && strcmp(format->str, "jsonl") != 0) {
		err->key = "format";
		snprintf(err->msg, sizeof(err->msg), "a dlq sink writes jsonl, not '%s'",
			 format->str);
		return -EINVAL;
	}
	return 0;
}

/* What feeds this sink, from the bound pipeline: its one input. */
static int dlq_resolve_input(struct dlq_sink *s, const char *name, struct sl_error *err)
{
	const struct sl_config_node *me, *from;
	const struct sl_config_input *in;
	int i;

	s->cfg = dlq_cfg;
	if (!dlq_cfg)
		return 0;
	i = sl_config_find(dlq_cfg, name);
	if (i < 0)
		return 0;
	me = &dlq_cfg->nodes[i];
	if (me->n_inputs != 1) {
		snprintf(err->msg, sizeof(err->msg),
			 "a dlq sink records the stage that feeds it, so it takes one input, "
			 "not %u: use one dlq sink per stage",
			 me->n_inputs);
		return -EINVAL;
	}
	in = &me->inputs[0];
	from = &dlq_cfg->nodes[in->node];
	s->stage = dlq_str(from->name);
	s->use = dlq_str(from->kind);
	s->output = dlq_str(in->port < from->n_outputs && from->output_names
				    ? from->output_names[in->port]
				    : "default");
	if (from->role != SL_NODE_STAGE)
		return 0;
	s->version = dlq_str(from->stage->version);
	for (uint32_t k = 0; dlq_reg; k++) {
		const char *origin;
		const struct sl_stage_desc *d = sl_registry_at(dlq_reg, k, &origin);

		if (!d)
			break;
		if (strcmp(d->name, from->stage->name) == 0) {
			if (strcmp(origin, "builtin") != 0)
				s->plugin = dlq_str(origin);
			break;
		}
	}
	return 0;
}

static int dlq_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		      struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	const struct sl_arg *mk = sl_args_get(args, "mkdir");
	const struct sl_arg *append = sl_args_get(args, "append");
	const struct sl_arg *fs = sl_args_get(args, "fsync");
	struct timespec ts;
	struct dlq_sink *s;
	int rc;

	*self = NULL;
	rc = dlq_check(args, err);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->meta_offset = env->meta_offset;
	s->fsync = fs && fs->b;
	s->path = strdup(path->str);
	s->buf = malloc(DLQ_BUF_BYTES);
	if (!s->path || !s->buf) {
		rc = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto err_free;
	}
	rc = dlq_resolve_input(s, env->name, err);
	if (rc < 0)
		goto err_free;
	err->key = "path";
	if ((!mk || mk->b) && (rc = sl_sink_mkdirs(s->path, err->msg, sizeof(err->msg))) < 0)
		goto err_free;
	s->fd = open(s->path,
		     O_WRONLY | O_CREAT | O_CLOEXEC | (!append || append->b ? O_APPEND : O_TRUNC),
		     0600);
	if (s->fd < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot open %s for writing: %s", s->path,
			 strerror(-rc));
		goto err_free;
	}
	err->key = NULL;
	/* Wall-clock time from the TSC: no clock_gettime per burst. */
	clock_gettime(CLOCK_REALTIME, &ts);
	s->base_tsc = rte_rdtsc();
	s->base_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	s->tsc_hz = env->tsc_hz ? env->tsc_hz : rte_get_tsc_hz();
	*self = s;
	return 0;

err_free:
	dlq_destroy(s);
	return rc;
}

const struct sl_sink_ops sl_sink_dlq = {
	.type = "dlq",
	.summary = "dead-letter queue: each event with stage, reason, time, id and raw bytes "
		   "(jsonl)",
	.params = dlq_params,
	.create = dlq_create,
	.check = dlq_check,
	.write = dlq_write,
	.flush = dlq_flush,
	.summary_line = dlq_summary_line,
	.destroy = dlq_destroy,
};
