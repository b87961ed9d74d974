/*
 * The `dlq` source: reads a dead-letter file written by the `dlq` sink and re-injects each
 * entry's original bytes as a line event, with its original event_id, so a pipeline can
 * replay dead letters into any stage (`inputs: [the_dlq_source]`). Optional filters keep
 * only the entries of one stage or one reason. create runs on the control thread; poll on
 * the one lcore that polls the source. It owns the file descriptor and two buffers: the
 * read buffer (1 MiB reads, so one read(2) per block of lines, none per event) and the
 * scratch the parser decodes into. A line that does not parse is skipped and counted
 * (`bad_lines`); the first few are logged as FILE:LINE:COLUMN: why (the column is the byte
 * offset in the line plus one, as in pipeline-file errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "base/log.h"
#include "event/event.h"
#include "resilience/dlq_format.h"
#include "sink/dlq.h"
#include "source.h"

#define DLQ_SRC_READ   (1u << 20)
#define DLQ_SRC_BUF    (SL_DLQ_LINE_MAX + DLQ_SRC_READ)
#define DLQ_SRC_LOGGED 10

struct dlq_source {
	int fd;
	struct rte_mempool *pool;
	int meta_offset;
	uint16_t node_id;
	uint32_t room;	/* longest line kept (enlarged events) */
	uint32_t small; /* longest line a small event takes (event.h) */
	char *buf, *scratch;
	size_t pos, len;
	uint64_t buf_off; /* file offset of buf[0] */
	uint64_t line_no; /* lines before buf[pos] */
	bool eof, skipping, stopped;
	char *stage, *reason, *path;
	uint64_t n_lines, n_events, n_bytes, n_bad, n_filtered, n_truncated, n_nombuf;
	uint64_t n_read_errors, n_too_long;
};

static const struct sl_param_desc dlq_src_params[] = {
	{ "path", SL_PARAM_STR, true, NULL, "dead-letter file written by a dlq sink" },
	{ "stage", SL_PARAM_STR, false, NULL, "only entries recorded from this stage" },
	{ "reason", SL_PARAM_STR, false, NULL, "only entries with this reason" },
	{ NULL },
};

static bool dlq_src_match(const char *want, struct sl_dlq_str got)
{
	return !want || (got.p && strlen(want) == got.len && memcmp(want, got.p, got.len) == 0);
}

static void dlq_src_bad(struct dlq_source *s, uint64_t line_no, const char *what, size_t byte)
{
	s->n_bad++;
	if (s->n_bad <= DLQ_SRC_LOGGED)
		SL_WARN("dlq", "%s:%" PRIu64 ":%zu: %s; line skipped%s", s->path, line_no, byte + 1,
			what, s->n_bad == DLQ_SRC_LOGGED ? " (no more of these logged)" : "");
}

/* One line (no '\n'): an event in *ev, or nothing (filtered, bad). -ENOBUFS: no mbuf. */
static int dlq_src_line(struct dlq_source *s, const char *line, size_t len, uint64_t line_no,
			struct rte_mbuf **ev)
{
	struct sl_dlq_entry e;
	struct sl_dlq_error err;
	struct rte_mbuf *m;
	struct sl_meta *meta;
	uint32_t n;

	*ev = NULL;
	if (len == 0)
		return 0;
	if (len > SL_DLQ_LINE_MAX) {
		s->n_too_long++;
		dlq_src_bad(s, line_no, "line longer than 1 MiB", SL_DLQ_LINE_MAX);
		return 0;
	}
	if (sl_dlq_parse(line, len, &e, s->scratch, &err) < 0) {
		dlq_src_bad(s, line_no, err.msg, err.offset);
		return 0;
	}
	if (!dlq_src_match(s->stage, e.stage) || !dlq_src_match(s->reason, e.reason)) {
		s->n_filtered++;
		return 0;
	}
	m = rte_pktmbuf_alloc(s->pool);
	if (!m) {
		s->n_nombuf++;
		return -ENOBUFS;
	}
	n = e.raw.len;
	if (n > s->room) {
		n = s->room;
		s->n_truncated++;
		e.truncated = true;
	}
	/* A line longer than a small event takes goes into a big buffer, as the file source
	 * does; without one free, the same line again at the next poll. */
	if (n > s->small && !sl_event_enlarge(m)) {
		rte_pktmbuf_free(m);
		s->n_nombuf++;
		return -ENOBUFS;
	}
	memcpy(rte_pktmbuf_mtod(m, char *), e.raw.p, n);
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	meta = sl_event_meta(s->meta_offset, m);
	meta->event_id = e.event_id;
	meta->ingest_tsc = rte_rdtsc();
	meta->source = s->node_id;
	meta->kind = SL_EVENT_LINE;
	meta->flags = e.truncated ? SL_META_F_TRUNCATED : 0;
	meta->raw_len = (uint16_t)n;
	meta->rec_off = 0;
	s->n_events++;
	s->n_bytes += n;
	*ev = m;
	return 0;
}

/* Read the next block behind what is left of the buffer. */
static void dlq_src_fill(struct dlq_source *s)
{
	ssize_t r;

	if (s->pos) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->buf_off += s->pos;
		s->len -= s->pos;
		s->pos = 0;
	}
	do
		r = read(s->fd, s->buf + s->len, DLQ_SRC_BUF - s->len);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		s->n_read_errors++;
		SL_ERR("dlq", "%s: read failed: %s", s->path, strerror(errno));
		s->eof = true;
	} else if (r == 0) {
		s->eof = true;
	} else {
		s->len += (size_t)r;
	}
}

static uint16_t dlq_src_poll(void *self, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct dlq_source *s = self;
	uint16_t k = 0;
	bool filled = false;

	if (__atomic_load_n(&s->stopped, __ATOMIC_RELAXED)) {
		*done = true;
		return 0;
	}
	while (k < max) {
		char *start = s->buf + s->pos;
		char *nl = memchr(start, '\n', s->len - s->pos);
		size_t len;

		if (!nl) {
			if (s->skipping && s->len > s->pos) {
				/* Still inside an over-long line: drop what we have of it. */
				s->pos = s->len;
			}
			if (!s->eof && !filled && s->len - s->pos < SL_DLQ_LINE_MAX) {
				dlq_src_fill(s);
				filled = true; /* one read per poll keeps the lcore responsive */
				continue;
			}
			if (!s->eof && s->len - s->pos >= SL_DLQ_LINE_MAX) {
				s->n_too_long++;
				s->n_lines++;
				dlq_src_bad(s, s->line_no + 1, "line longer than 1 MiB", 0);
				s->line_no++;
				s->skipping = true;
				s->pos = s->len;
				continue;
			}
			if (!s->eof)
				break;
			if (s->pos == s->len) {
				*done = true;
				break;
			}
			nl = s->buf + s->len; /* last line without a newline */
		}
		len = (size_t)(nl - start);
		if (s->skipping) {
			s->skipping = false;
		} else {
			struct rte_mbuf *m;

			s->n_lines++;
			if (dlq_src_line(s, start, len, s->line_no + 1, &m) < 0)
				break; /* no mbuf: the same line again at the next poll */
			if (m)
				ev[k++] = m;
			s->line_no++;
		}
		s->pos = nl < s->buf + s->len ? (size_t)(nl - s->buf) + 1 : s->len;
	}
	return k;
}

static void dlq_src_stop(void *self)
{
	struct dlq_source *s = self;

	/* Relaxed: the worker only needs to see it eventually; no data is published. */
	__atomic_store_n(&s->stopped, true, __ATOMIC_RELAXED);
}

static void dlq_src_summary_line(void *self, char *buf, size_t len)
{
	struct dlq_source *s = self;

	snprintf(buf, len,
		 "lines=%" PRIu64 " events=%" PRIu64 " bytes=%" PRIu64 " bad_lines=%" PRIu64
		 " filtered=%" PRIu64 " truncated=%" PRIu64 " nombuf=%" PRIu64
		 " read_errors=%" PRIu64,
		 s->n_lines, s->n_events, s->n_bytes, s->n_bad, s->n_filtered, s->n_truncated,
		 s->n_nombuf, s->n_read_errors);
}

static void dlq_src_destroy(void *self)
{
	struct dlq_source *s = self;

	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->scratch);
	free(s->stage);
	free(s->reason);
	free(s->path);
	free(s);
}

static int dlq_src_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");

	if (!path || !path->str || !path->str[0]) {
		err->key = "path";
		snprintf(err->msg, sizeof(err->msg), "a file path is required");
		return -EINVAL;
	}
	return 0;
}

static char *dup_opt(const struct sl_arg *a, bool *oom)
{
	char *s;

	if (!a || !a->str)
		return NULL;
	s = strdup(a->str);
	*oom |= !s;
	return s;
}

static int dlq_src_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
			  struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	struct dlq_source *s;
	bool oom = false;
	int rc;

	*self = NULL;
	rc = dlq_src_check(args, err);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pool = env->pool;
	s->meta_offset = env->meta_offset;
	s->node_id = env->node_id;
	s->room = sl_source_line_room(env->pool);
	s->small = sl_event_line_max_small(env->pool);
	s->path = dup_opt(path, &oom);
	s->stage = dup_opt(sl_args_get(args, "stage"), &oom);
	s->reason = dup_opt(sl_args_get(args, "reason"), &oom);
	s->buf = malloc(DLQ_SRC_BUF);
	s->scratch = malloc(DLQ_SRC_BUF);
	s->fd = -1;
	if (oom || !s->buf || !s->scratch) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		dlq_src_destroy(s);
		return -ENOMEM;
	}
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		rc = -errno;
		err->key = "path";
		snprintf(err->msg, sizeof(err->msg), "cannot open %s: %s", s->path, strerror(-rc));
		dlq_src_destroy(s);
		return rc;
	}
	*self = s;
	return 0;
}

const struct sl_source_ops sl_source_dlq = {
	.type = "dlq",
	.summary = "replay a dead-letter file (dlq sink) as line events, optionally one "
		   "stage's or reason's",
	.params = dlq_src_params,
	.create = dlq_src_create,
	.check = dlq_src_check,
	.poll = dlq_src_poll,
	.stop = dlq_src_stop,
	.summary_line = dlq_src_summary_line,
	.destroy = dlq_src_destroy,
};
