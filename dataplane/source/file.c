/*
 * The `file` source: reads a file once, front to back, and turns each line into a line
 * event. create runs on the control thread; poll, stop and summary_line on the one worker
 * lcore that drives the source. It owns the file descriptor, an io_uring, queue_depth read
 * buffers and a small stash of pre-allocated mbufs.
 *
 * Reads: queue_depth reads of read_bytes each are kept in flight at increasing offsets;
 * completions may arrive in any order but buffers are consumed strictly in file order.
 * Every buffer has a prefix area of max_line_bytes in front of its read area: the partial
 * line left at the end of one buffer is copied into the prefix of the next, right before
 * its data, so lines are always contiguous and each byte is carried at most once (no
 * quadratic copying). Framing and copying are one pass: 16-byte vectors are copied into
 * the event while they are searched for the newline. No syscall per line: one
 * io_uring_submit per refill, completions are read from the shared ring. Without io_uring
 * (see sl_io_uring_init) the same buffers are filled with pread.
 *
 * Per-file state lives in struct file_cursor so `follow` (tailing, rotation) can be added
 * by giving the cursor a new file without touching the framing.
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
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "base/check.h"
#include "base/log.h"
#include "source.h"

#define FILE_STASH     64 /* mbufs allocated per refill */
#define FILE_DEPTH_MAX 64
#define FILE_READ_MAX  (1u << 30)
#define FILE_SLACK     64 /* spare bytes after a read area for 16-byte scans */

enum file_buf_state {
	FILE_BUF_FREE = 0,
	FILE_BUF_INFLIGHT,
	FILE_BUF_READY,
};

struct file_buf {
	char *mem;     /* prefix (line_max bytes) then read area (read_bytes) */
	char *data;    /* mem + line_max: where reads land */
	uint64_t off;  /* file offset of data[0] */
	uint32_t want; /* bytes asked for */
	uint32_t got;  /* bytes read so far */
	int err;       /* -errno of a failed read */
	uint8_t state; /* enum file_buf_state */
	bool eof;      /* a read returned 0 before want bytes */
};

/* One open file and where framing stands in it. */
struct file_cursor {
	int fd;
	uint16_t slot;	   /* top 16 bits of event_id */
	uint64_t next_off; /* offset of the next read to submit */
	bool eof_seen;	   /* a read hit end of file: submit no more */
	uint32_t head;	   /* buffer being consumed */
	bool scanning;	   /* head buffer's region is set up */
	const char *p;	   /* scan position in the region */
	const char *end;   /* end of the region */
	uint64_t p_off;	   /* file offset of *p */
	uint32_t carry;	   /* bytes carried into the head buffer's prefix */
	bool skip;	   /* inside a truncated line: drop up to the next '\n' */
	bool done;
	uint64_t stop_off; /* a line starting here or later is another replica's */
};

struct file_source {
	struct rte_mempool *pool;
	int meta_offset;
	uint16_t node_id;
	uint32_t line_max, read_bytes, depth;
	struct file_buf *bufs;
	struct file_cursor cur;
	bool uring;
	struct io_uring ring;
	uint32_t n_inflight;
	bool stopped;
	uint32_t n_stash;
	struct rte_mbuf *stash[FILE_STASH];
	uint64_t n_lines, n_bytes, n_truncated, n_empty, n_nombuf, n_read_errors;
	uint64_t size; /* at open; replicas split [0, size) */
	char *path;
	char *name;
};

static const struct sl_param_desc file_params[] = {
	{ "path", SL_PARAM_STR, true, NULL, "file to read" },
	/* 128 KiB: four reads in flight stay in L2 until framed (1 MiB was slower on the
	 * issue-2 benchmark, perf/RESULTS.md). */
	{ "read_bytes", SL_PARAM_INT, false, "131072", "size of each read" },
	{ "queue_depth", SL_PARAM_INT, false, "4", "reads in flight" },
	{ "max_line_bytes", SL_PARAM_INT, false, "0",
	  "longest line kept whole, longer ones are truncated (0 = what fits an event)" },
	{ NULL },
};

static int64_t file_arg_int(const struct sl_args *args, const char *key, int64_t def)
{
	const struct sl_arg *a = sl_args_get(args, key);

	return a ? a->i : def;
}

/* Queue a read for the rest of buffer i (io_uring) or fill it now (pread). */
static void file_read_start(struct file_source *fs, uint32_t i)
{
	struct file_buf *b = &fs->bufs[i];
	struct io_uring_sqe *sqe;

	b->state = FILE_BUF_INFLIGHT;
	if (fs->uring) {
		sqe = io_uring_get_sqe(&fs->ring);
		/* The ring has an entry per buffer, so it cannot be full here. */
		SL_BUG_ON_HOT(!sqe);
		io_uring_prep_read(sqe, fs->cur.fd, b->data + b->got, b->want - b->got,
				   b->off + b->got);
		io_uring_sqe_set_data64(sqe, i);
		fs->n_inflight++;
		return;
	}
	while (b->got < b->want) {
		ssize_t r = pread(fs->cur.fd, b->data + b->got, b->want - b->got,
				  (off_t)(b->off + b->got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			b->err = -errno;
			break;
		}
		if (r == 0) {
			b->eof = true;
			break;
		}
		b->got += (uint32_t)r;
	}
	b->state = FILE_BUF_READY;
}

/* Start reads into every free buffer, in ring order after the head. */
static void file_refill(struct file_source *fs)
{
	struct file_cursor *c = &fs->cur;
	bool queued = false;

	for (uint32_t k = 0; k < fs->depth && !c->eof_seen; k++) {
		uint32_t i = (c->head + k) % fs->depth;
		struct file_buf *b = &fs->bufs[i];

		if (b->state != FILE_BUF_FREE)
			continue;
		b->off = c->next_off;
		b->want = fs->read_bytes;
		b->got = 0;
		b->err = 0;
		b->eof = false;
		c->next_off += fs->read_bytes;
		file_read_start(fs, i);
		queued = true;
		if (!fs->uring && (b->eof || b->err))
			c->eof_seen = true;
	}
	if (queued && fs->uring)
		io_uring_submit(&fs->ring);
}

static void file_complete(struct file_source *fs, uint32_t i, int res)
{
	struct file_buf *b = &fs->bufs[i];

	fs->n_inflight--;
	if (res == -EAGAIN || res == -EINTR) {
		file_read_start(fs, i);
		return;
	}
	if (res < 0) {
		b->err = res;
		fs->cur.eof_seen = true;
	} else if (res == 0) {
		b->eof = true;
		fs->cur.eof_seen = true;
	} else {
		b->got += (uint32_t)res;
		if (b->got < b->want) {
			/* Short read: ask for the rest, the next read tells EOF apart. */
			file_read_start(fs, i);
			return;
		}
	}
	b->state = FILE_BUF_READY;
}

/* Take every completion that is there, without entering the kernel. */
static void file_reap(struct file_source *fs)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	bool resubmit = false;
	uint32_t before;

	if (!fs->uring || fs->n_inflight == 0)
		return;
	before = fs->n_inflight;
	io_uring_for_each_cqe (&fs->ring, head, cqe) {
		file_complete(fs, (uint32_t)io_uring_cqe_get_data64(cqe), cqe->res);
		seen++;
	}
	io_uring_cq_advance(&fs->ring, seen);
	resubmit = fs->n_inflight > before - seen;
	if (resubmit)
		io_uring_submit(&fs->ring);
}

static bool file_stash_refill(struct file_source *fs)
{
	static const unsigned tries[] = { FILE_STASH, 8, 1 };

	for (size_t t = 0; t < SL_ARRAY_SIZE(tries); t++) {
		if (rte_pktmbuf_alloc_bulk(fs->pool, fs->stash, tries[t]) == 0) {
			fs->n_stash = tries[t];
			return true;
		}
	}
	fs->n_nombuf++;
	return false;
}

/*
 * Copy bytes from src to dst 16 at a time until a '\n' shows up among the first lim
 * bytes: one pass both frames and copies the line. Returns the newline's index, or lim
 * when there is none. Reads and writes up to FILE_SLACK bytes past lim; read buffers and
 * events both have that much room to spare.
 */
static inline uint32_t file_copy_line(char *dst, const char *src, uint32_t lim)
{
#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n');

	for (uint32_t i = 0; i < lim; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));

		_mm_storeu_si128((__m128i *)(void *)(dst + i), v);
		if (mask) {
			uint32_t k = i + (uint32_t)__builtin_ctz(mask);

			return k < lim ? k : lim;
		}
	}
	return lim;
#else
	const char *q = memchr(src, '\n', lim);
	uint32_t n = q ? (uint32_t)(q - src) : lim;

	memcpy(dst, src, n);
	return n;
#endif
}

/* Finish the event at the top of the stash, whose data already holds len line bytes. */
static inline void file_emit(struct file_source *fs, struct rte_mbuf **ev, uint16_t *n,
			     uint32_t len, uint8_t flags, uint64_t off, uint64_t tsc)
{
	struct rte_mbuf *m = fs->stash[--fs->n_stash];
	struct sl_meta *meta = sl_event_meta(fs->meta_offset, m);

	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	meta->event_id = (uint64_t)fs->cur.slot << 48 | off;
	meta->ingest_tsc = tsc;
	meta->source = fs->node_id;
	meta->kind = SL_EVENT_LINE;
	meta->flags = flags;
	meta->raw_len = (uint16_t)len;
	meta->rec_off = 0;
	ev[(*n)++] = m;
	fs->n_lines++;
}

/* Set up the head buffer's region: the carried partial line followed by the data. */
static bool file_region_begin(struct file_source *fs)
{
	struct file_cursor *c = &fs->cur;
	struct file_buf *b = &fs->bufs[c->head];

	if (b->state != FILE_BUF_READY)
		return false;
	c->p = b->data - c->carry;
	c->end = b->data + b->got;
	c->p_off = b->off - c->carry;
	c->scanning = true;
	fs->n_bytes += b->got;
	return true;
}

/* The head buffer is consumed: carry its partial line into the next and free it. */
static void file_region_end(struct file_source *fs)
{
	struct file_cursor *c = &fs->cur;
	struct file_buf *b = &fs->bufs[c->head];
	struct file_buf *next = &fs->bufs[(c->head + 1) % fs->depth];
	uint32_t tail = (uint32_t)(c->end - c->p);

	SL_BUG_ON_HOT(tail > fs->line_max);
	if (tail)
		memmove(next->data - tail, c->p, tail);
	c->carry = tail;
	b->state = FILE_BUF_FREE;
	c->head = (c->head + 1) % fs->depth;
	c->scanning = false;
}

static void file_finish(struct file_source *fs, int err)
{
	struct file_cursor *c = &fs->cur;

	if (err) {
		fs->n_read_errors++;
		SL_ERR("file", "%s: read error at offset %" PRIu64 ": %s", fs->path,
		       fs->bufs[c->head].off + fs->bufs[c->head].got, strerror(-err));
	}
	c->done = true;
	c->scanning = false;
}

static uint16_t file_poll(void *self, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct file_source *fs = self;
	struct file_cursor *c = &fs->cur;
	uint64_t tsc = rte_rdtsc();
	uint16_t n = 0;

	if (__atomic_load_n(&fs->stopped, __ATOMIC_RELAXED) || c->done) {
		*done = true;
		return 0;
	}
	file_reap(fs);
	file_refill(fs);
	while (n < max && !c->done) {
		struct file_buf *b = &fs->bufs[c->head];
		const char *q;

		if (!c->scanning) {
			if (!file_region_begin(fs))
				break;
			if (b->err) {
				file_finish(fs, b->err);
				break;
			}
		}
		if (c->skip) {
			/* Rest of a truncated line: drop it up to its newline. */
			q = memchr(c->p, '\n', (size_t)(c->end - c->p));
			if (q) {
				c->p_off += (uint64_t)(q + 1 - c->p);
				c->p = q + 1;
				c->skip = false;
				continue;
			}
			c->p_off += (uint64_t)(c->end - c->p);
			c->p = c->end;
		} else if (c->p < c->end) {
			uint32_t avail = (uint32_t)(c->end - c->p);

			if (c->p_off >= c->stop_off) {
				/* The rest belongs to the next replica's share. */
				file_finish(fs, 0);
				break;
			}
			uint32_t lim = avail > fs->line_max ? fs->line_max + 1 : avail;
			uint32_t k;

			if (fs->n_stash == 0 && !file_stash_refill(fs))
				break;
			k = file_copy_line(rte_pktmbuf_mtod(fs->stash[fs->n_stash - 1], char *),
					   c->p, lim);
			if (k < lim) {
				/* A whole line of k bytes. */
				if (k)
					file_emit(fs, ev, &n, k, 0, c->p_off, tsc);
				else
					fs->n_empty++;
				c->p_off += k + 1;
				c->p += k + 1;
				continue;
			}
			if (avail > fs->line_max) {
				/* No newline within line_max + 1 bytes: keep line_max of them. */
				file_emit(fs, ev, &n, fs->line_max, SL_META_F_TRUNCATED, c->p_off,
					  tsc);
				fs->n_truncated++;
				c->skip = true;
				c->p_off += lim;
				c->p += lim;
				continue;
			}
			if (b->eof) {
				/* The last line of the file has no newline. */
				file_emit(fs, ev, &n, avail, 0, c->p_off, tsc);
				c->p_off += avail;
				c->p = c->end;
			}
		}
		/* The region holds no complete line any more. */
		if (b->eof) {
			file_finish(fs, 0);
			break;
		}
		file_region_end(fs);
		file_refill(fs);
	}
	*done = c->done;
	return n;
}

static void file_stop(void *self)
{
	struct file_source *fs = self;

	/* Relaxed: the worker only needs to see it eventually; no data is published. */
	__atomic_store_n(&fs->stopped, true, __ATOMIC_RELAXED);
}

static void file_summary_line(void *self, char *buf, size_t len)
{
	struct file_source *fs = self;

	snprintf(buf, len,
		 "lines=%" PRIu64 " bytes=%" PRIu64 " truncated=%" PRIu64 " empty=%" PRIu64
		 " nombuf=%" PRIu64 " read_errors=%" PRIu64,
		 fs->n_lines, fs->n_bytes, fs->n_truncated, fs->n_empty, fs->n_nombuf,
		 fs->n_read_errors);
}

static void file_destroy(void *self)
{
	struct file_source *fs = self;

	if (!fs)
		return;
	if (fs->uring) {
		/* Reads past end of file may still be in flight into our buffers. */
		while (fs->n_inflight) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&fs->ring, &cqe) < 0)
				break;
			fs->n_inflight--;
			io_uring_cqe_seen(&fs->ring, cqe);
		}
		io_uring_queue_exit(&fs->ring);
	}
	if (fs->n_stash)
		rte_pktmbuf_free_bulk(fs->stash, fs->n_stash);
	for (uint32_t i = 0; fs->bufs && i < fs->depth; i++)
		free(fs->bufs[i].mem);
	free(fs->bufs);
	if (fs->cur.fd >= 0)
		close(fs->cur.fd);
	free(fs->path);
	free(fs->name);
	free(fs);
}

static int file_open(struct file_source *fs, const char *path, struct sl_error *err)
{
	struct stat st;
	int fd, rc;

	/* O_NONBLOCK so a FIFO does not block the open; regular files ignore it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot stat %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "cannot read %s: %s", path, strerror(EISDIR));
		close(fd);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg),
			 "cannot read %s: not a regular file (pipes and devices are not supported)",
			 path);
		close(fd);
		return -EINVAL;
	}
	fs->cur.fd = fd;
	fs->size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Replica k of n reads the lines that start in [size * k / n, size * (k + 1) / n): it
 * starts one byte early and drops everything up to the first newline (the previous share's
 * last line, or just that newline when a line starts exactly at the boundary), and stops
 * at the first line that starts at or after its end. Every line is read by exactly one
 * replica, whole, whatever the boundaries cut.
 */
static void file_share(struct file_source *fs, uint16_t k, uint16_t n)
{
	struct file_cursor *c = &fs->cur;
	uint64_t lo = fs->size / n * k + fs->size % n * k / n;
	uint64_t hi = fs->size / n * (k + 1u) + fs->size % n * (k + 1u) / n;

	c->stop_off = k + 1u == n ? UINT64_MAX : hi;
	if (lo > 0) {
		c->next_off = lo - 1;
		c->skip = true;
	}
}

/* Parameters that can be judged without a pool or the file (validate, create). */
static int file_check(const struct sl_args *args, struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	int64_t read_bytes = file_arg_int(args, "read_bytes", 128 << 10);
	int64_t depth = file_arg_int(args, "queue_depth", 4);
	int64_t max_line = file_arg_int(args, "max_line_bytes", 0);

	if (!path || !path->str || !path->str[0]) {
		err->key = "path";
		snprintf(err->msg, sizeof(err->msg), "a file path is required");
		return -EINVAL;
	}
	if (read_bytes < 1 || read_bytes > FILE_READ_MAX) {
		err->key = "read_bytes";
		snprintf(err->msg, sizeof(err->msg), "read_bytes must be 1..%u, not %" PRId64,
			 FILE_READ_MAX, read_bytes);
		return -EINVAL;
	}
	if (depth < 1 || depth > FILE_DEPTH_MAX) {
		err->key = "queue_depth";
		snprintf(err->msg, sizeof(err->msg), "queue_depth must be 1..%d, not %" PRId64,
			 FILE_DEPTH_MAX, depth);
		return -EINVAL;
	}
	if (max_line < 0) {
		err->key = "max_line_bytes";
		snprintf(err->msg, sizeof(err->msg), "max_line_bytes must not be negative");
		return -EINVAL;
	}
	return 0;
}

static int file_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		       struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	int64_t read_bytes = file_arg_int(args, "read_bytes", 128 << 10);
	int64_t depth = file_arg_int(args, "queue_depth", 4);
	int64_t max_line = file_arg_int(args, "max_line_bytes", 0);
	uint32_t room = sl_source_line_room(env->pool);
	struct file_source *fs;
	int rc;

	*self = NULL;
	rc = file_check(args, err);
	if (rc < 0)
		return rc;
	if (room == 0) {
		err->key = NULL;
		snprintf(err->msg, sizeof(err->msg),
			 "events are too small for lines: data room %u bytes",
			 rte_pktmbuf_data_room_size(env->pool));
		return -EINVAL;
	}
	if (max_line < 0 || max_line > room) {
		err->key = "max_line_bytes";
		snprintf(err->msg, sizeof(err->msg),
			 "max_line_bytes must be 0..%u (what fits an event), not %" PRId64, room,
			 max_line);
		return -EINVAL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->cur.fd = -1;
	fs->pool = env->pool;
	fs->meta_offset = env->meta_offset;
	fs->node_id = env->node_id;
	fs->line_max = max_line ? (uint32_t)max_line : room;
	fs->read_bytes = (uint32_t)read_bytes;
	fs->depth = (uint32_t)depth;
	fs->path = strdup(path->str);
	fs->name = strdup(env->name ? env->name : "file");
	fs->bufs = calloc(fs->depth, sizeof(*fs->bufs));
	if (!fs->path || !fs->name || !fs->bufs) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (uint32_t i = 0; i < fs->depth; i++) {
		/* Cache-line aligned so the read area starts on a line of its own. */
		size_t sz = RTE_ALIGN_CEIL(fs->line_max, 64) + (size_t)fs->read_bytes + FILE_SLACK;

		if (posix_memalign((void **)&fs->bufs[i].mem, 64, sz)) {
			rc = -ENOMEM;
			goto err_free;
		}
		/* Scans read a little past the data: keep those bytes defined. */
		memset(fs->bufs[i].mem, 0, sz);
		fs->bufs[i].data = fs->bufs[i].mem + RTE_ALIGN_CEIL(fs->line_max, 64);
	}
	rc = file_open(fs, fs->path, err);
	if (rc < 0) {
		err->key = "path";
		goto err_free;
	}
	fs->cur.stop_off = UINT64_MAX;
	if (env->n_replicas > 1)
		file_share(fs, env->replica, env->n_replicas);
	fs->uring = sl_io_uring_init(&fs->ring, fs->depth, "file");
	*self = fs;
	return 0;

err_free:
	if (rc == -ENOMEM && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "out of memory for %u buffers of %u bytes",
			 fs->depth, fs->read_bytes);
	file_destroy(fs);
	return rc;
}

const struct sl_source_ops sl_source_file = {
	.type = "file",
	.summary = "read a file once and emit one line event per line (io_uring, pread fallback)",
	.flags = SL_SOURCE_F_REPLICAS,
	.params = file_params,
	.create = file_create,
	.check = file_check,
	.poll = file_poll,
	.stop = file_stop,
	.summary_line = file_summary_line,
	.destroy = file_destroy,
};
