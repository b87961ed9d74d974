/*
 * The `file` sink: formats events (raw or jsonl) into large buffers and writes them to a
 * file with io_uring, keeping several writes in flight. create runs on the control thread;
 * write, flush and summary_line on the one worker lcore that drives the sink. It owns the
 * file descriptor, the io_uring and FILE_SINK_BUFS buffers of FILE_SINK_BUF_BYTES.
 *
 * One buffer is filled at a time; when the next event does not fit, the buffer is queued
 * as one write at the next file offset and another free buffer is taken. Writes carry
 * explicit offsets (the file is not opened O_APPEND: concurrent appends could land out of
 * order), so completions may come back in any order. A short write is resubmitted for the
 * rest. When every buffer is in flight, write takes no more events: that is the sink's
 * backpressure. flush(final) submits the partial buffer and waits for every write (and an
 * fsync when asked). Without io_uring (sl_io_uring_init) or for non-regular files
 * (pipes, devices: no offsets) the same buffers are written synchronously.
 *
 * Durability (`fsync`): none; end (at the final flush only); interval (an fdatasync at most
 * every fsync_interval, from the periodic flush, when bytes were written since the last);
 * every_batch (an fdatasync after every buffer's write completes). With io_uring the
 * syncs are IORING_OP_FSYNC requests on the same ring, so the lcore does not block on
 * them; the pwrite fallback calls fdatasync. Size-based rotation (`rotate_bytes`): once
 * the file holds rotate_bytes or more, at an event boundary, every write is waited for,
 * the file is synced (unless fsync: none), closed and renamed PATH.N (N = 1, 2, ... in
 * order, skipping names that exist) and a new PATH is opened. The wait blocks the lcore
 * for the writes in flight (at most FILE_SINK_BUFS buffers), once per rotation.
 *
 * Disk full (ENOSPC, EDQUOT on a regular file): the buffer keeps what it could not write (stalled), the sink
 * says so once and takes no more events, so backpressure stops its inputs and, in the end,
 * the sources; every FILE_SINK_RETRY_MS the stalled buffers are written again, in file
 * order, and once they all went through the sink takes events again (logged with how long
 * it waited). Nothing taken is dropped and no file is truncated or needs deleting. The
 * final flush keeps retrying for FILE_SINK_FULL_GIVE_UP_S, then gives up with an error
 * (the events are counted as write errors; a checkpointed source has not committed them).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "base/check.h"
#include "base/log.h"
#include "event/event.h"
#include "sink.h"

#define FILE_SINK_BUFS		 4
#define FILE_SINK_BUF_BYTES	 (1u << 20)
#define FILE_SINK_NONE		 UINT32_MAX
#define FILE_SINK_SYNC_TAG	 (1ull << 63) /* user_data of an fsync: tag | events it covers */
#define FILE_SINK_RETRY_MS	 200	      /* disk full: retry the stalled writes this often */
#define FILE_SINK_FULL_GIVE_UP_S 60	      /* disk full at the final flush: wait at most this */
#define FILE_SINK_MAX_AGE_US	 1000	      /* a buffer filling for this long is written */

enum file_sink_fsync {
	FSYNC_NONE = 0,
	FSYNC_END,
	FSYNC_INTERVAL,
	FSYNC_EVERY_BATCH,
};

enum wbuf_state {
	WBUF_FREE = 0,
	WBUF_FILLING,
	WBUF_INFLIGHT,
	WBUF_STALLED, /* disk full: [done, len) waits for space */
};

struct wbuf {
	char *mem;
	uint32_t len;	   /* bytes formatted */
	uint32_t done;	   /* bytes written so far */
	uint64_t off;	   /* file offset of mem[0] */
	uint64_t ev_start; /* events taken before this buffer's first one */
	uint8_t state;	   /* enum wbuf_state */
};

struct file_sink {
	enum sl_sink_format fmt;
	int meta_offset;
	int fd;
	bool uring;
	uint8_t fsync_mode; /* enum file_sink_fsync */
	bool sync_wanted;   /* a buffer completed since the last sync (every_batch) */
	uint32_t n_sync_inflight;
	uint64_t sync_interval_tsc, next_sync_tsc;
	uint64_t synced_off; /* bytes submitted when the last sync was started */
	uint64_t rotate_bytes;
	uint32_t rotate_seq;
	struct io_uring ring;
	struct wbuf bufs[FILE_SINK_BUFS];
	uint32_t cur;	      /* buffer being filled, or FILE_SINK_NONE */
	uint64_t cur_tsc;     /* when it was taken */
	uint64_t max_age_tsc; /* FILE_SINK_MAX_AGE_US */
	uint32_t n_inflight;
	uint64_t next_off;
	int err; /* first write error, -errno */
	uint64_t n_events, n_bytes, n_encode_errors, n_write_errors, n_discarded;
	uint64_t n_fsyncs, n_rotations;
	/* disk full */
	bool full;		/* stalled buffers wait; no events are taken */
	uint64_t full_since;	/* TSC of the first stall of this episode; 0 = none */
	uint64_t retry_tsc;	/* next retry */
	uint64_t n_full_pauses; /* episodes */
	uint64_t tsc_hz;
	char *path;
	/* Durability, counted in events in the order write took them (sink.h, durable). */
	bool event_id;	     /* write each event's id */
	uint64_t n_taken;    /* events write took, formatted or not */
	uint64_t ev_synced;  /* events covered by a completed sync */
	uint64_t ev_durable; /* last answer of durable(); frozen after a write error */
};

static const struct sl_param_desc file_sink_params[] = {
	{ "path", SL_PARAM_STR, true, NULL, "file to write" },
	{ "format", SL_PARAM_STR, false, "jsonl", "raw | jsonl" },
	{ "mkdir", SL_PARAM_BOOL, false, "true", "create missing parent directories" },
	{ "append", SL_PARAM_BOOL, false, "false", "append instead of truncating" },
	{ "fsync", SL_PARAM_STR, false, "none",
	  "none | end (at the final flush; also true) | interval | every_batch" },
	{ "fsync_interval", SL_PARAM_STR, false, "1s", "fsync: interval: at most this often" },
	{ "rotate_bytes", SL_PARAM_INT, false, "0",
	  "rename the file to PATH.N once it holds this many bytes (0 = never)" },
	{ "event_id", SL_PARAM_BOOL, false, "false",
	  "write each event's id (jsonl: an \"event_id\" field; raw: \"ID \" before the line)" },
	{ NULL },
};

/* Out of space on a regular file: worth waiting for (a device such as /dev/full that says
 * ENOSPC is not going to change its mind: that is an error as any other). */
static bool file_sink_no_space(const struct file_sink *s, int err)
{
	return (err == -ENOSPC || err == -EDQUOT) && s->next_off != UINT64_MAX;
}

/* Buffer i could not be written for lack of space: keep it for a retry. */
static void file_sink_stall(struct file_sink *s, uint32_t i, int err)
{
	uint64_t now = rte_rdtsc();

	s->bufs[i].state = WBUF_STALLED;
	s->full = true;
	s->retry_tsc = now + s->tsc_hz / 1000 * FILE_SINK_RETRY_MS;
	if (s->full_since == 0) {
		s->full_since = now;
		s->n_full_pauses++;
		SL_ERR("file",
		       "%s: %s: pausing (no events taken, inputs held back), retrying every %d "
		       "ms",
		       s->path, strerror(-err), FILE_SINK_RETRY_MS);
	}
}

static void file_sink_write_start(struct file_sink *s, uint32_t i);

/* Disk full and the retry time came: write the stalled buffers again, in file order. */
static void file_sink_retry(struct file_sink *s)
{
	if (!s->full || rte_rdtsc() < s->retry_tsc)
		return;
	s->full = false;
	for (;;) {
		uint32_t first = FILE_SINK_NONE;

		for (uint32_t i = 0; i < FILE_SINK_BUFS; i++)
			if (s->bufs[i].state == WBUF_STALLED &&
			    (first == FILE_SINK_NONE || s->bufs[i].off < s->bufs[first].off))
				first = i;
		if (first == FILE_SINK_NONE || s->full)
			break;
		file_sink_write_start(s, first);
	}
	if (s->uring)
		io_uring_submit(&s->ring);
}

/* A write went through: if a disk-full episode is over, say so. */
static void file_sink_maybe_resumed(struct file_sink *s)
{
	if (!s->full_since || s->full)
		return;
	for (uint32_t i = 0; i < FILE_SINK_BUFS; i++)
		if (s->bufs[i].state == WBUF_STALLED)
			return;
	SL_NOTICE("file", "%s: space again: resumed after %.1f s", s->path,
		  (double)(rte_rdtsc() - s->full_since) / (double)s->tsc_hz);
	s->full_since = 0;
}

static void file_sink_error(struct file_sink *s, int err)
{
	s->n_write_errors++;
	if (!s->err) {
		s->err = err;
		/* Once per sink: events written after this are discarded and counted. */
		SL_ERR("file", "%s: write failed: %s; discarding further events", s->path,
		       strerror(-err));
	}
}

/* Events whose bytes are all written: those taken before the first buffer still being
 * filled or written (buffers are filled and queued in event order). */
static uint64_t file_sink_written(const struct file_sink *s)
{
	uint64_t w = s->n_taken;

	for (uint32_t i = 0; i < FILE_SINK_BUFS; i++)
		if (s->bufs[i].state != WBUF_FREE && s->bufs[i].ev_start < w)
			w = s->bufs[i].ev_start;
	return w;
}

/* Start an fdatasync of what was written so far: a ring request, or a call now. It covers
 * the writes completed before it starts, so it makes that many events durable. */
static void file_sink_sync_start(struct file_sink *s)
{
	uint64_t mark = file_sink_written(s);
	struct io_uring_sqe *sqe;

	s->sync_wanted = false;
	/* What this sync covers: up to the first write still in flight. A write completing
	 * later leaves synced_off behind next_off, so the next interval syncs again. */
	s->synced_off = s->next_off;
	for (uint32_t i = 0; i < FILE_SINK_BUFS; i++)
		if (s->bufs[i].state == WBUF_INFLIGHT && s->bufs[i].off < s->synced_off)
			s->synced_off = s->bufs[i].off;
	if (s->err)
		return;
	if (s->next_off == UINT64_MAX) {
		s->ev_synced = mark; /* a pipe or device: nothing to sync */
		return;
	}
	s->n_fsyncs++;
	if (s->uring) {
		sqe = io_uring_get_sqe(&s->ring);
		if (sqe) {
			io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
			io_uring_sqe_set_data64(sqe, FILE_SINK_SYNC_TAG | mark);
			s->n_sync_inflight++;
			io_uring_submit(&s->ring);
			return;
		}
	}
	if (fdatasync(s->fd) < 0 && errno != EINVAL)
		file_sink_error(s, -errno);
	else if (mark > s->ev_synced)
		s->ev_synced = mark;
}

/* Queue the rest of buffer i (io_uring), or write it out now. */
static void file_sink_write_start(struct file_sink *s, uint32_t i)
{
	struct wbuf *b = &s->bufs[i];
	struct io_uring_sqe *sqe;

	b->state = WBUF_INFLIGHT;
	if (s->uring) {
		sqe = io_uring_get_sqe(&s->ring);
		/* One entry per buffer: the submission queue cannot be full. */
		SL_BUG_ON_HOT(!sqe);
		io_uring_prep_write(sqe, s->fd, b->mem + b->done, b->len - b->done,
				    b->off + b->done);
		io_uring_sqe_set_data64(sqe, i);
		s->n_inflight++;
		return;
	}
	while (b->done < b->len) {
		const char *p = b->mem + b->done;
		size_t n = b->len - b->done;
		ssize_t r = b->off != UINT64_MAX ? pwrite(s->fd, p, n, (off_t)(b->off + b->done))
						 : write(s->fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && file_sink_no_space(s, -errno)) {
			file_sink_stall(s, i, -errno);
			return;
		}
		if (r <= 0) {
			file_sink_error(s, r < 0 ? -errno : -EIO);
			break;
		}
		b->done += (uint32_t)r;
	}
	b->state = WBUF_FREE;
	b->len = b->done = 0;
	file_sink_maybe_resumed(s);
	if (s->fsync_mode == FSYNC_EVERY_BATCH)
		file_sink_sync_start(s);
}

static void file_sink_submit_cur(struct file_sink *s)
{
	struct wbuf *b;

	if (s->cur == FILE_SINK_NONE)
		return;
	b = &s->bufs[s->cur];
	s->cur = FILE_SINK_NONE;
	if (b->len == 0) {
		b->state = WBUF_FREE;
		return;
	}
	/* Non-regular files are written in order at the current position (off unused). */
	b->off = s->next_off;
	if (s->next_off != UINT64_MAX)
		s->next_off += b->len;
	b->done = 0;
	file_sink_write_start(s, (uint32_t)(b - s->bufs));
	if (s->uring)
		io_uring_submit(&s->ring);
}

static void file_sink_complete(struct file_sink *s, uint32_t i, int res)
{
	struct wbuf *b = &s->bufs[i];

	s->n_inflight--;
	if (res == -EAGAIN || res == -EINTR) {
		file_sink_write_start(s, i);
		return;
	}
	if (file_sink_no_space(s, res)) {
		file_sink_stall(s, i, res);
		return;
	}
	if (res <= 0) {
		file_sink_error(s, res < 0 ? res : -EIO);
	} else {
		b->done += (uint32_t)res;
		if (b->done < b->len) {
			file_sink_write_start(s, i);
			return;
		}
	}
	b->state = WBUF_FREE;
	b->len = b->done = 0;
	s->sync_wanted |= s->fsync_mode == FSYNC_EVERY_BATCH;
	file_sink_maybe_resumed(s);
}

/* Take completions; wait for at least one when wait is set and writes are in flight. */
static void file_sink_reap(struct file_sink *s, bool wait)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	uint32_t before = s->n_inflight;

	if (!s->uring || s->n_inflight + s->n_sync_inflight == 0)
		return;
	if (wait) {
		int rc = io_uring_wait_cqe(&s->ring, &cqe);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
			/* The ring itself failed: nothing in flight can be trusted any more. */
			file_sink_error(s, rc);
			s->n_inflight = 0;
			return;
		}
	}
	io_uring_for_each_cqe (&s->ring, head, cqe) {
		seen++;
		uint64_t data = io_uring_cqe_get_data64(cqe);

		if (data & FILE_SINK_SYNC_TAG) {
			s->n_sync_inflight--;
			before++; /* not a write: keeps the resubmission count below exact */
			if (cqe->res < 0 && cqe->res != -EINVAL)
				file_sink_error(s, cqe->res);
			/* Syncs may complete in any order; a later one covers an earlier one. */
			else if ((data & ~FILE_SINK_SYNC_TAG) > s->ev_synced)
				s->ev_synced = data & ~FILE_SINK_SYNC_TAG;
			continue;
		}
		file_sink_complete(s, (uint32_t)io_uring_cqe_get_data64(cqe), cqe->res);
	}
	io_uring_cq_advance(&s->ring, seen);
	if (s->n_inflight > before - seen)
		io_uring_submit(&s->ring);
	if (s->sync_wanted)
		file_sink_sync_start(s);
}

static int file_sink_open(struct file_sink *s, bool append, char *msg, size_t msg_len);

/* Wait for every write and sync in flight. */
static void file_sink_drain(struct file_sink *s)
{
	while (s->n_inflight + s->n_sync_inflight)
		file_sink_reap(s, true);
}

/* The file holds rotate_bytes: close it as PATH.N and open a new PATH. */
static void file_sink_rotate(struct file_sink *s)
{
	size_t len = strlen(s->path) + 16;
	char *to = malloc(len);
	struct stat st;

	file_sink_submit_cur(s);
	file_sink_drain(s);
	if (s->full) {
		/* Disk full: the stalled buffers belong to this file; rotate once they are in. */
		free(to);
		return;
	}
	if (s->fsync_mode != FSYNC_NONE && s->synced_off != s->next_off) {
		file_sink_sync_start(s);
		file_sink_drain(s);
	}
	if (!to) {
		file_sink_error(s, -ENOMEM);
		return;
	}
	do
		snprintf(to, len, "%s.%u", s->path, ++s->rotate_seq);
	while (lstat(to, &st) == 0);
	if (rename(s->path, to) < 0) {
		file_sink_error(s, -errno);
	} else {
		char msg[256];

		close(s->fd);
		s->fd = -1;
		int rc = file_sink_open(s, false, msg, sizeof(msg));

		if (rc < 0) {
			SL_ERR("file", "%s", msg);
			file_sink_error(s, rc);
		}
		s->n_rotations++;
	}
	free(to);
}

/* A buffer to format into: the current one, or a free one (NULL when all are busy). */
static struct wbuf *file_sink_buf(struct file_sink *s)
{
	if (s->cur != FILE_SINK_NONE)
		return &s->bufs[s->cur];
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < FILE_SINK_BUFS; i++) {
			if (s->bufs[i].state == WBUF_FREE) {
				s->cur = i;
				s->bufs[i].state = WBUF_FILLING;
				s->bufs[i].len = 0;
				s->bufs[i].ev_start = s->n_taken;
				s->cur_tsc = rte_rdtsc();
				return &s->bufs[i];
			}
		}
		file_sink_reap(s, false);
	}
	return NULL;
}

static inline long file_sink_format(const struct file_sink *s, struct rte_mbuf *m, char *out,
				    size_t cap)
{
	if (unlikely(s->event_id))
		return sl_sink_format_event_id(s->fmt, s->meta_offset, m, out, cap);
	return sl_sink_format_event(s->fmt, s->meta_offset, m, out, cap);
}

static uint16_t file_sink_write(void *self, struct rte_mbuf **ev, uint16_t n)
{
	struct file_sink *s = self;
	uint16_t i;

	file_sink_reap(s, false);
	file_sink_retry(s);
	if (unlikely(s->full))
		return 0; /* disk full: hold the inputs back */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = ev[i];
		struct wbuf *b;
		long r;

		if (s->err) {
			s->n_discarded += n - i;
			s->n_taken += n - i;
			rte_pktmbuf_free_bulk(ev + i, n - i);
			return n;
		}
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(ev[i + 1], void *));
		b = file_sink_buf(s);
		if (!b)
			break;
		r = file_sink_format(s, m, b->mem + b->len, FILE_SINK_BUF_BYTES - b->len);
		if (r == -2 && b->len > 0) {
			file_sink_submit_cur(s);
			b = file_sink_buf(s);
			if (!b)
				break;
			r = file_sink_format(s, m, b->mem, FILE_SINK_BUF_BYTES);
		}
		s->n_taken++;
		if (r < 0) {
			s->n_encode_errors++;
		} else {
			b->len += (uint32_t)r;
			s->n_events++;
			s->n_bytes += (uint64_t)r;
			if (unlikely(s->rotate_bytes) && s->next_off + b->len >= s->rotate_bytes)
				file_sink_rotate(s);
		}
	}
	/* Every taken event was copied out; give them back to the pool in one go. */
	if (i)
		sl_event_free_bulk(ev, i);
	/* A short burst means the input ring ran dry: write what is buffered now rather than
	 * at the runtime's next periodic flush (100 ms), so a followed line reaches the file
	 * within a worker loop (perf/bench-file-latency.sh: p99 100 ms -> about 2 ms at 100 k
	 * lines/s). A sink that lags behind its input sees only full bursts: it writes a buffer
	 * once it has been filling for FILE_SINK_MAX_AGE_US (at 10 MB/s a 1 MiB buffer would
	 * take 100 ms to fill). Full bursts at full speed still fill whole buffers. every_batch
	 * syncs each write: there, this waits while a write or sync is in flight (group
	 * commit). */
	if (i == n && s->cur != FILE_SINK_NONE &&
	    (n < SL_BURST_MAX || rte_rdtsc() - s->cur_tsc >= s->max_age_tsc) &&
	    (s->fsync_mode != FSYNC_EVERY_BATCH || (s->n_inflight == 0 && s->n_sync_inflight == 0)))
		file_sink_submit_cur(s);
	return i;
}

static int file_sink_flush(void *self, bool final)
{
	struct file_sink *s = self;

	file_sink_submit_cur(s);
	file_sink_reap(s, false);
	file_sink_retry(s);
	if (!final) {
		if (s->fsync_mode == FSYNC_INTERVAL && s->synced_off != s->next_off) {
			uint64_t now = rte_rdtsc();

			if (now >= s->next_sync_tsc) {
				s->next_sync_tsc = now + s->sync_interval_tsc;
				file_sink_sync_start(s);
			}
		}
		return s->err;
	}
	file_sink_drain(s);
	/* Disk full at the end: keep retrying for a while before giving up. */
	for (uint64_t start = rte_rdtsc(); s->full && !s->err;) {
		if (rte_rdtsc() - start > s->tsc_hz * FILE_SINK_FULL_GIVE_UP_S) {
			file_sink_error(s, -ENOSPC);
			break;
		}
		usleep(FILE_SINK_RETRY_MS * 1000);
		file_sink_retry(s);
		file_sink_drain(s);
	}
	if (s->fsync_mode != FSYNC_NONE && !s->err && s->next_off != UINT64_MAX) {
		s->n_fsyncs++;
		if (fsync(s->fd) < 0 && errno != EINVAL)
			file_sink_error(s, -errno);
	}
	if (!s->err)
		s->ev_synced = file_sink_written(s);
	return s->err;
}

/* Events durable per the fsync policy: written (none, end: the page cache holds them, so
 * they survive the process though not the machine) or written and synced (interval,
 * every_batch). After a write error, nothing more: those events were not written. */
static uint64_t file_sink_durable(void *self)
{
	struct file_sink *s = self;

	if (s->err)
		return s->ev_durable;
	file_sink_reap(s, false);
	if (s->err)
		return s->ev_durable;
	s->ev_durable = s->fsync_mode == FSYNC_INTERVAL || s->fsync_mode == FSYNC_EVERY_BATCH
				? s->ev_synced
				: file_sink_written(s);
	return s->ev_durable;
}

static void file_sink_summary_line(void *self, char *buf, size_t len)
{
	struct file_sink *s = self;

	snprintf(buf, len,
		 "events=%" PRIu64 " bytes=%" PRIu64 " encode_errors=%" PRIu64
		 " write_errors=%" PRIu64 " discarded=%" PRIu64 " full_pauses=%" PRIu64
		 " fsyncs=%" PRIu64 " rotations=%" PRIu64,
		 s->n_events, s->n_bytes, s->n_encode_errors, s->n_write_errors, s->n_discarded,
		 s->n_full_pauses, s->n_fsyncs, s->n_rotations);
}

static void file_sink_destroy(void *self)
{
	struct file_sink *s = self;

	if (!s)
		return;
	if (s->fd >= 0) {
		/* Normally flushed already; never drop formatted output silently. */
		file_sink_flush(s, true);
	}
	if (s->uring)
		io_uring_queue_exit(&s->ring);
	for (int i = 0; i < FILE_SINK_BUFS; i++)
		free(s->bufs[i].mem);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}

/* fsync's value: a mode name, or a boolean (true: at the end, as before the modes). */
static int file_sink_fsync_parse(const struct sl_arg *a)
{
	static const struct {
		const char *name;
		int mode;
	} names[] = {
		{ "none", FSYNC_NONE },		{ "false", FSYNC_NONE },
		{ "no", FSYNC_NONE },		{ "off", FSYNC_NONE },
		{ "end", FSYNC_END },		{ "true", FSYNC_END },
		{ "yes", FSYNC_END },		{ "on", FSYNC_END },
		{ "interval", FSYNC_INTERVAL }, { "every_batch", FSYNC_EVERY_BATCH },
	};

	if (!a)
		return FSYNC_NONE;
	if (!a->str)
		return a->b ? FSYNC_END : FSYNC_NONE;
	for (size_t i = 0; i < SL_ARRAY_SIZE(names); i++)
		if (strcasecmp(a->str, names[i].name) == 0)
			return names[i].mode;
	return -1;
}

/* Parameters that can be judged without touching the file system (validate, create). */
static int file_sink_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	const struct sl_arg *format = sl_args_get(args, "format");
	const struct sl_arg *fsync_ = sl_args_get(args, "fsync");
	const struct sl_arg *interval = sl_args_get(args, "fsync_interval");
	const struct sl_arg *rotate = sl_args_get(args, "rotate_bytes");
	int fmt = format ? sl_sink_format_parse(format->str) : SL_FORMAT_JSONL;
	uint64_t ns;

	if (file_sink_fsync_parse(fsync_) < 0) {
		err->key = "fsync";
		snprintf(err->msg, sizeof(err->msg),
			 "expected none, end, interval or every_batch, got '%s'", fsync_->str);
		return -EINVAL;
	}
	if (interval && interval->str &&
	    (sl_window_parse(interval->str, &ns) < 0 || ns < 1000000 || ns > 3600000000000ull)) {
		err->key = "fsync_interval";
		snprintf(err->msg, sizeof(err->msg),
			 "expected a duration from 1ms to 1h like 1s or 250ms, got '%s'",
			 interval->str);
		return -EINVAL;
	}
	if (rotate && rotate->i < 0) {
		err->key = "rotate_bytes";
		snprintf(err->msg, sizeof(err->msg), "rotate_bytes must not be negative");
		return -EINVAL;
	}

	if (!path || !path->str || !path->str[0]) {
		err->key = "path";
		snprintf(err->msg, sizeof(err->msg), "a file path is required");
		return -EINVAL;
	}
	if (fmt != SL_FORMAT_RAW && fmt != SL_FORMAT_JSONL) {
		err->key = "format";
		snprintf(err->msg, sizeof(err->msg), "format must be raw or jsonl, not '%s'%s",
			 format->str, fmt == SL_FORMAT_TABLE ? " (table is for stdout only)" : "");
		return -EINVAL;
	}
	return 0;
}

/* Open s->path (the control thread at create; the worker at a rotation). */
static int file_sink_open(struct file_sink *s, bool append, char *msg, size_t msg_len)
{
	struct stat st;
	int rc, flags;

	/* O_NONBLOCK only for the open itself, so a FIFO without a reader fails (ENXIO)
	 * instead of hanging the control thread. */
	flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | (append ? 0 : O_TRUNC);
	s->fd = open(s->path, flags, 0644);
	if (s->fd < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot open %s for writing: %s", s->path, strerror(-rc));
		return rc;
	}
	if (fstat(s->fd, &st) < 0 || fcntl(s->fd, F_SETFL, 0) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot use %s: %s", s->path, strerror(-rc));
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(msg, msg_len, "cannot write %s: %s", s->path, strerror(EISDIR));
		return -EISDIR;
	}
	/* Pipes and devices have no offsets: synchronous writes, in order. */
	s->next_off = !S_ISREG(st.st_mode) ? UINT64_MAX : append ? (uint64_t)st.st_size : 0;
	s->synced_off = s->next_off;
	return 0;
}

static int file_sink_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
			    struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	const struct sl_arg *format = sl_args_get(args, "format");
	const struct sl_arg *mk = sl_args_get(args, "mkdir");
	const struct sl_arg *append = sl_args_get(args, "append");
	const struct sl_arg *fs = sl_args_get(args, "fsync");
	const struct sl_arg *interval = sl_args_get(args, "fsync_interval");
	const struct sl_arg *rotate = sl_args_get(args, "rotate_bytes");
	const struct sl_arg *event_id = sl_args_get(args, "event_id");
	int fmt = format ? sl_sink_format_parse(format->str) : SL_FORMAT_JSONL;
	bool do_append = append && append->b;
	struct file_sink *s;
	uint64_t ns = 1000000000ull;
	int rc;

	*self = NULL;
	rc = file_sink_check(args, err);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->cur = FILE_SINK_NONE;
	s->tsc_hz = rte_get_tsc_hz();
	s->max_age_tsc = s->tsc_hz / 1000000 * FILE_SINK_MAX_AGE_US;
	s->fmt = (enum sl_sink_format)fmt;
	s->meta_offset = env->meta_offset;
	s->fsync_mode = (uint8_t)file_sink_fsync_parse(fs);
	if (interval && interval->str)
		sl_window_parse(interval->str, &ns);
	s->sync_interval_tsc = ns / 1000 * (rte_get_tsc_hz() / 1000) / 1000;
	s->rotate_bytes = rotate && rotate->i > 0 ? (uint64_t)rotate->i : 0;
	s->event_id = event_id && event_id->b;
	s->path = strdup(path->str);
	if (!s->path) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (int i = 0; i < FILE_SINK_BUFS; i++) {
		if (posix_memalign((void **)&s->bufs[i].mem, 4096, FILE_SINK_BUF_BYTES)) {
			rc = -ENOMEM;
			snprintf(err->msg, sizeof(err->msg), "out of memory for write buffers");
			goto err_free;
		}
	}
	err->key = "path";
	if ((!mk || mk->b) && (rc = sl_sink_mkdirs(s->path, err->msg, sizeof(err->msg))) < 0)
		goto err_free;
	rc = file_sink_open(s, do_append, err->msg, sizeof(err->msg));
	if (rc < 0)
		goto err_free;
	if (s->next_off != UINT64_MAX) {
		/* One entry per buffer, and one per buffer again for its fsync. */
		s->uring = sl_io_uring_init(&s->ring, 2 * FILE_SINK_BUFS, "file");
	} else if (s->rotate_bytes) {
		rc = -EINVAL;
		err->key = "rotate_bytes";
		snprintf(err->msg, sizeof(err->msg), "%s is not a regular file: cannot rotate it",
			 s->path);
		goto err_free;
	}
	err->key = NULL;
	*self = s;
	return 0;

err_free:
	if (rc == -ENOMEM && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	file_sink_destroy(s);
	return rc;
}

const struct sl_sink_ops sl_sink_file = {
	.type = "file",
	.summary = "write events to a file as raw lines or JSON lines (io_uring, pwrite fallback)",
	.params = file_sink_params,
	.create = file_sink_create,
	.check = file_sink_check,
	.write = file_sink_write,
	.flush = file_sink_flush,
	.durable = file_sink_durable,
	.summary_line = file_sink_summary_line,
	.destroy = file_sink_destroy,
};
