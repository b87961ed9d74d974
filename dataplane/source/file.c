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
 * quadratic copying). Framing and copying are one pass: 32-byte vectors (AVX2, when the CPU
 * has it) or 16-byte ones are copied into the event while they are searched for the
 * newline. No syscall per line: one io_uring_submit per refill, completions are read from
 * the shared ring; on tmpfs and the page cache the kernel does each read inline in that
 * submit (docs/file-tailing.md, 'Reading a file once'). Without io_uring (see
 * sl_io_uring_init) the same buffers are filled with pread.
 *
 * With `follow: true` or `paths:` the source runs its tail engine instead (the second half
 * of this file, tail_*): any number of files matched by globs, each identified by a
 * fingerprint (device, inode, hash of its first bytes), read one at a time with one read in
 * flight, woken by inotify (a watch per open file and per glob directory; with io_uring the
 * inotify descriptor is polled through the ring, so an idle source makes no syscall), with
 * rotation, truncation and deletion handled as docs/file-tailing.md describes. The read-once
 * path above is untouched by it: file_poll branches once per call.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <poll.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
/* A 32-byte framing loop, compiled for AVX2 whatever the build's -march and taken only when
 * the CPU has it (file_create asks once): see file_copy_line_avx2. */
#define FILE_HAVE_AVX2 1
/* tune=haswell: whole 32-byte unaligned loads and stores (the generic tuning splits each in
 * two 16-byte halves, and the split store was the loop's hottest instruction). GCC inlines a
 * function of the default tuning into one of another tuning only when it is always_inline:
 * every helper of the per-line path is. */
#define FILE_AVX2 __attribute__((target("avx2,tune=haswell")))
#else
#define FILE_HAVE_AVX2 0
#endif
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
/* Header-only: the hash is a few lines, inlined where fingerprints are taken. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/check.h"
#include "base/log.h"
#include "checkpoint/checkpoint.h"
#include "event/event.h"
#include "source.h"

#define FILE_STASH	64 /* mbufs allocated per refill */
#define FILE_DEPTH_MAX	64
#define FILE_READ_MAX	(1u << 30)
#define FILE_SLACK	64	   /* spare bytes after a read area for 16-byte scans */
#define FILE_SKIP_WAITS 128	   /* reads waited for per poll inside an over-long line, */
#define FILE_SKIP_BYTES (4u << 20) /* and bytes at most */

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

struct tail;

struct file_source {
	struct rte_mempool *pool;
	int meta_offset;
	uint16_t node_id;
	/* line_keep: max_line_bytes, the longest line kept whole; line_max: the longest line
	 * framed, one more with strip_cr (its '\r' is not part of the line, so a line of
	 * line_keep bytes and a '\r' is whole). Buffers' prefix areas hold line_max. */
	uint32_t line_keep, line_max, read_bytes, depth;
	uint32_t line_small; /* longest line an event holds before it is enlarged */
	struct file_buf *bufs;
	struct file_cursor cur;
	bool uring;
	struct io_uring ring;
	uint32_t n_inflight;
	bool stopped;
	uint32_t n_stash;
	struct rte_mbuf *stash[FILE_STASH];
	bool skip_long; /* max_line_policy: skip (else truncate) */
	bool strip_cr;	/* drop a '\r' before the newline */
	bool avx2;	/* the read-once engine frames 32 bytes at a time (CPU has AVX2) */
	uint64_t n_lines, n_bytes, n_truncated, n_empty, n_nombuf, n_read_errors, n_skipped;
	uint64_t size;		    /* at open; replicas split [0, size) */
	struct file_claims *claims; /* replicas of a read-once file: chunks handed out */
	char *path;
	char *name;
	struct tail *tail; /* follow or paths: the tail engine's state, else NULL */
};

static const struct sl_param_desc file_params[] = {
	{ "path", SL_PARAM_STR, false, NULL, "file to read (this or paths)" },
	/* 128 KiB: four reads in flight stay in L2 until framed (1 MiB was slower on the
	 * issue-2 benchmark, perf/RESULTS.md). */
	{ "read_bytes", SL_PARAM_INT, false, "131072", "size of each read" },
	{ "queue_depth", SL_PARAM_INT, false, "4", "reads in flight" },
	{ "max_line_bytes", SL_PARAM_INT, false, "0",
	  "longest line kept whole (0 = what fits an event)" },
	{ "max_line_policy", SL_PARAM_STR, false, "truncate",
	  "longer lines: truncate (keep max_line_bytes, flagged) or skip (drop, counted)" },
	{ "strip_cr", SL_PARAM_BOOL, false, "false", "drop a '\\r' that ends a line (CRLF)" },
	{ "paths", SL_PARAM_LIST, false, NULL, "globs of files to read (this or path)" },
	{ "follow", SL_PARAM_BOOL, false, "false", "keep reading as files grow, rotate, truncate" },
	{ "start_at", SL_PARAM_STR, false, "beginning",
	  "files present at start: beginning or end (follow only; new files: beginning)" },
	{ "glob_interval", SL_PARAM_STR, false, "1s", "re-scan the globs this often" },
	{ "rotate_wait", SL_PARAM_STR, false, "1s",
	  "keep a rotated-away or deleted file open this long after its last new byte" },
	{ "checkpoint", SL_PARAM_STR, false, NULL,
	  "file keeping each file's acknowledged offset across restarts (at-least-once)" },
	{ "checkpoint_interval", SL_PARAM_STR, false, "1s",
	  "how often the position is taken; bounds the duplicates after a crash" },
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
		/* A share needs bytes up to the end of a line starting just before its end. */
		if (c->stop_off != UINT64_MAX &&
		    c->next_off > c->stop_off + fs->line_max + fs->read_bytes)
			break;
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

/*
 * Inside an over-long line a poll emits nothing, so one that only looked for finished
 * reads left the worker idle, and asleep, between reads (~0.5 ms each: 2.4 s for a
 * 20 MB line in 4 KiB reads). There it waits for a read instead, as the tail engine reads
 * synchronously (TAIL_SKIP_READS). False when nothing is in flight to wait for.
 */
static bool file_wait_read(struct file_source *fs)
{
	struct io_uring_cqe *cqe;

	if (!fs->uring || fs->n_inflight == 0 || io_uring_wait_cqe(&fs->ring, &cqe) < 0)
		return false;
	file_reap(fs);
	return true;
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

#if FILE_HAVE_AVX2
/*
 * file_copy_line 32 bytes at a time: half the iterations of the 16-byte loop for the
 * ~180-byte lines of an access log (the loop was ~60 % of the read-once engine's own
 * samples). Reads and writes up to 31 bytes past lim, within FILE_SLACK. Compiled for
 * AVX2 only here; it is inlined into file_once_avx2, which runs only when
 * __builtin_cpu_supports("avx2") said so at create.
 */
FILE_AVX2 static inline uint32_t file_copy_line_avx2(char *dst, const char *src, uint32_t lim)
{
	const __m256i nl = _mm256_set1_epi8('\n');

	for (uint32_t i = 0; i < lim; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
		unsigned mask = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nl));

		_mm256_storeu_si256((__m256i *)(void *)(dst + i), v);
		if (mask) {
			uint32_t k = i + (uint32_t)__builtin_ctz(mask);

			return k < lim ? k : lim;
		}
	}
	return lim;
}
#endif

/* The framing loop of the engine: the AVX2 one when the caller was compiled for it. */
static __rte_always_inline uint32_t file_copy(char *dst, const char *src, uint32_t lim, bool avx2)
{
#if FILE_HAVE_AVX2
	if (avx2)
		return file_copy_line_avx2(dst, src, lim);
#endif
	return file_copy_line(dst, src, lim);
}

/*
 * Frame and copy the line at src (avail bytes up to the region's end) into the event at
 * the top of the stash, whose data it becomes. Copied into the mbuf's own room first; a
 * line longer than that is copied again into a big buffer attached to the event
 * (sl_event_enlarge), which stays with it. *lim is set to min(avail, line_max + 1). Returns
 * the newline's index, lim when there is none within lim (as file_copy_line), or UINT32_MAX
 * when no big buffer was free (the caller retries on the next poll).
 */
static __rte_always_inline uint32_t file_frame(struct file_source *fs, const char *src,
					       uint32_t avail, uint32_t *lim, bool avx2)
{
	struct rte_mbuf *m = fs->stash[fs->n_stash - 1];
	uint32_t all = avail > fs->line_max ? fs->line_max + 1 : avail;
	uint32_t first = all > fs->line_small ? fs->line_small + 1 : all;
	uint32_t k = file_copy(rte_pktmbuf_mtod(m, char *), src, first, avx2);

	*lim = all;
	if (likely(k < first) || first == all)
		return k;
	if (!RTE_MBUF_HAS_EXTBUF(m) && !sl_event_enlarge(m))
		return UINT32_MAX;
	return file_copy(rte_pktmbuf_mtod(m, char *), src, all, avx2);
}

/* Make m, whose data holds len line bytes, a line event. */
static __rte_always_inline void file_line_event(struct rte_mbuf *m, int meta_offset,
						uint16_t node_id, uint64_t event_id, uint32_t len,
						uint8_t flags, uint64_t tsc)
{
	/* sl_event_meta spelled out: file_once_avx2 (another tuning) would call it. */
	struct sl_meta *meta = RTE_MBUF_DYNFIELD(m, meta_offset, struct sl_meta *);

	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	meta->event_id = event_id;
	meta->ingest_tsc = tsc;
	meta->source = node_id;
	meta->kind = SL_EVENT_LINE;
	meta->flags = flags;
	meta->raw_len = (uint16_t)len;
	meta->rec_off = 0;
}

/* The next line lands in the event at the top of the stash: ask for its first lines. */
static __rte_always_inline void file_prefetch_next(struct rte_mbuf *next)
{
	char *d = rte_pktmbuf_mtod(next, char *);

	rte_prefetch0_write(d);
	rte_prefetch0_write(d + 64);
	rte_prefetch0_write(d + 128);
}

/* Finish the event at the top of the stash, whose data already holds len line bytes. */
static __rte_always_inline void file_emit(struct file_source *fs, struct rte_mbuf **ev, uint16_t *n,
					  uint32_t len, uint8_t flags, uint64_t off, uint64_t tsc)
{
	struct rte_mbuf *m = fs->stash[--fs->n_stash];

	file_line_event(m, fs->meta_offset, fs->node_id, (uint64_t)fs->cur.slot << 48 | off, len,
			flags, tsc);
	ev[(*n)++] = m;
	fs->n_lines++;
	if (likely(fs->n_stash))
		file_prefetch_next(fs->stash[fs->n_stash - 1]);
}

/* A line longer than line_keep: keep line_keep of its bytes (flagged), or none (skip
 * policy). When it had no newline within line_max + 1 bytes, the caller then drops the
 * rest up to the newline. */
static __rte_always_inline void file_line_long(struct file_source *fs, struct rte_mbuf **ev,
					       uint16_t *n, uint64_t off, uint64_t tsc,
					       uint8_t stamp)
{
	if (fs->skip_long) {
		fs->n_skipped++;
	} else {
		file_emit(fs, ev, n, fs->line_keep, SL_META_F_TRUNCATED | stamp, off, tsc);
		fs->n_truncated++;
	}
}

/* A line that ended (a newline, or the end of its file) with k bytes, already copied into
 * the top stash mbuf: emitted, as a long one when over line_keep (a line_max framing lets
 * one more byte through with strip_cr), or counted when empty. */
static __rte_always_inline void file_line_end(struct file_source *fs, struct rte_mbuf **ev,
					      uint16_t *n, uint32_t k, uint64_t off, uint64_t tsc,
					      uint8_t stamp)
{
	if (unlikely(k > fs->line_keep))
		file_line_long(fs, ev, n, off, tsc, stamp);
	else if (k)
		file_emit(fs, ev, n, k, stamp, off, tsc);
	else
		fs->n_empty++;
}

/* A whole line of k bytes at src (before its newline), already copied into the top stash
 * mbuf: file_line_end less a final '\r' with strip_cr. Both engines frame with this. */
static __rte_always_inline void file_line_whole(struct file_source *fs, struct rte_mbuf **ev,
						uint16_t *n, const char *src, uint32_t k,
						uint64_t off, uint64_t tsc, uint8_t stamp)
{
	if (unlikely(fs->strip_cr) && k && src[k - 1] == '\r')
		k--;
	file_line_end(fs, ev, n, k, off, tsc, stamp);
}

/*
 * The read-once engine's common case in a tight loop: whole non-empty lines that fit an
 * event unenlarged, in this replica's share, while events are stashed. The cursor lives in
 * registers here: in file_once every 32-byte store into an event (char data, which may
 * alias anything) made the compiler reload it, ~60 instructions a line. Stops at the first
 * line it does not handle, for file_once's general path (which frames that line again).
 * Returns whether it took any line.
 */
static __rte_always_inline bool file_run_lines(struct file_source *fs, struct rte_mbuf **ev,
					       uint16_t *np, uint16_t max, uint64_t tsc, bool avx2)
{
	struct file_cursor *c = &fs->cur;
	const char *p = c->p;
	const char *const end = c->end;
	const uint64_t stop = c->stop_off, slot = (uint64_t)c->slot << 48;
	const uint32_t small = fs->line_small; /* at most line_keep (file_create) */
	const int meta_offset = fs->meta_offset;
	const uint16_t node_id = fs->node_id;
	const bool strip_cr = fs->strip_cr;
	struct rte_mbuf **const stash = fs->stash;
	uint64_t off = c->p_off;
	uint32_t ns = fs->n_stash, taken = 0;
	uint16_t n = *np;

	while (n < max && ns && p < end && off < stop) {
		uint32_t avail = (uint32_t)(end - p);
		uint32_t first = avail > small ? small + 1 : avail;
		struct rte_mbuf *m = stash[ns - 1];
		uint32_t k = file_copy(rte_pktmbuf_mtod(m, char *), p, first, avx2);
		uint32_t len = k;

		if (k >= first)
			break; /* long, or no newline before the region's end */
		if (unlikely(strip_cr) && k && p[k - 1] == '\r')
			len--;
		if (len == 0)
			break; /* counted as empty by the general path */
		ns--;
		file_line_event(m, meta_offset, node_id, slot | off, len, 0, tsc);
		ev[n++] = m;
		if (likely(ns))
			file_prefetch_next(stash[ns - 1]);
		p += k + 1;
		off += k + 1;
		taken++;
	}
	c->p = p;
	c->p_off = off;
	fs->n_stash = ns;
	fs->n_lines += taken;
	*np = n;
	return taken != 0;
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

/*
 * Read-once files split between replicas are cut in chunks (FILE_CHUNK_BYTES, or fewer
 * when the file is small: at least FILE_CHUNKS_PER_REPLICA per replica). Replica k starts
 * with chunk k; a replica done with its chunk takes the next one not taken yet (one atomic
 * add), so replicas whose lcore has other work (a sink, the controller) read less and all
 * finish together. The last FILE_TAIL_CHUNKS chunks' worth per replica is cut 8 times finer,
 * so the replicas' last chunks end within ~1/8 of a chunk of each other (with 16 MiB chunks
 * throughout, one replica of the issue-5 run idled 2-45 ms, median ~19, while the other
 * read its last chunk). Every line belongs to the chunk it starts in (file_seek).
 */
#define FILE_CHUNK_BYTES	(16u << 20)
#define FILE_CHUNKS_PER_REPLICA 4
#define FILE_TAIL_CHUNKS	2
#define FILE_TAIL_SPLIT		8

struct file_claims {
	uint64_t chunk;	   /* bytes per chunk before the tail */
	uint64_t small;	   /* bytes per chunk in the tail */
	uint64_t n_big;	   /* chunks of `chunk` bytes, then chunks of `small` */
	uint64_t n_chunks; /* the last one ends at the file's end */
	uint64_t next;	   /* atomic: the next chunk to hand out */
	uint16_t node_id;
	uint16_t users; /* replicas holding it (control thread) */
};

/* Claims are found by node: the replicas of one source are created one after the other
 * on the control thread, replica 0 first. */
static struct file_claims *file_claims_live[64];

static struct file_claims *file_claims_get(uint16_t node_id, uint16_t replica, uint16_t n,
					   uint64_t size)
{
	struct file_claims *cl = NULL;
	unsigned slot = node_id % SL_ARRAY_SIZE(file_claims_live);

	if (replica == 0) {
		uint64_t per = size / ((uint64_t)n * FILE_CHUNKS_PER_REPLICA);

		cl = calloc(1, sizeof(*cl));
		if (!cl)
			return NULL;
		uint64_t tail;

		cl->chunk = per < FILE_CHUNK_BYTES ? (per ? per : 1) : FILE_CHUNK_BYTES;
		cl->small = cl->chunk / FILE_TAIL_SPLIT ? cl->chunk / FILE_TAIL_SPLIT : 1;
		tail = (uint64_t)n * FILE_TAIL_CHUNKS * cl->chunk;
		cl->n_big = size > tail ? (size - tail) / cl->chunk : 0;
		cl->n_chunks =
			cl->n_big + (size - cl->n_big * cl->chunk + cl->small - 1) / cl->small;
		if (cl->n_chunks < n)
			cl->n_chunks = n; /* a tiny file: some chunks are empty */
		cl->next = n;
		cl->node_id = node_id;
		file_claims_live[slot] = cl;
	} else if (file_claims_live[slot] && file_claims_live[slot]->node_id == node_id) {
		cl = file_claims_live[slot];
	}
	if (cl)
		cl->users++;
	return cl;
}

static void file_claims_put(struct file_claims *cl)
{
	if (!cl || --cl->users)
		return;
	for (size_t i = 0; i < SL_ARRAY_SIZE(file_claims_live); i++)
		if (file_claims_live[i] == cl)
			file_claims_live[i] = NULL;
	free(cl);
}

/*
 * Read the lines that start in [lo, hi) from now on: every buffer is dropped (reads in
 * flight are waited for), reading starts one byte early and drops everything up to the
 * first newline (the previous chunk's last line, or just that newline when a line starts
 * exactly at lo), and the share stops at the first line that starts at or after hi.
 */
static void file_seek(struct file_source *fs, uint64_t lo, uint64_t hi)
{
	struct file_cursor *c = &fs->cur;

	while (fs->uring && fs->n_inflight) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&fs->ring, &cqe) < 0)
			break;
		fs->n_inflight--;
		io_uring_cqe_seen(&fs->ring, cqe);
	}
	for (uint32_t i = 0; i < fs->depth; i++)
		fs->bufs[i].state = FILE_BUF_FREE;
	c->head = 0;
	c->scanning = false;
	c->carry = 0;
	c->eof_seen = false;
	c->p = c->end = NULL;
	c->next_off = lo ? lo - 1 : 0;
	c->skip = lo > 0;
	c->stop_off = hi >= fs->size ? UINT64_MAX : hi;
}

/* Where chunk i starts: big chunks first, then the tail's small ones. */
static uint64_t file_chunk_start(const struct file_claims *cl, uint64_t i)
{
	return i <= cl->n_big ? i * cl->chunk : cl->n_big * cl->chunk + (i - cl->n_big) * cl->small;
}

/* Read chunk i of the claims: [its start, the next one's), the last to the file's end. */
static void file_seek_chunk(struct file_source *fs, uint64_t i)
{
	const struct file_claims *cl = fs->claims;

	file_seek(fs, file_chunk_start(cl, i),
		  i + 1 >= cl->n_chunks ? UINT64_MAX : file_chunk_start(cl, i + 1));
}

/* This replica's chunk is done: move to the next free one. False when none is left. */
static bool file_next_chunk(struct file_source *fs)
{
	struct file_claims *cl = fs->claims;
	uint64_t i;

	if (!cl)
		return false;
	i = __atomic_fetch_add(&cl->next, 1, __ATOMIC_RELAXED);
	if (i >= cl->n_chunks)
		return false;
	file_seek_chunk(fs, i);
	return true;
}

/* Not inlined into file_poll: the read-once loop's code (callgrind: Ir per line on the issue-2
 * benchmark) then does not change with the tail engine's. */
static __attribute__((noinline)) uint16_t tail_poll(struct file_source *fs, struct rte_mbuf **ev,
						    uint16_t max, bool *done);

/* The read-once engine's poll, compiled twice: with the 16-byte framing loop and, where the
 * CPU has AVX2, with the 32-byte one (file_poll picks). */
static __rte_always_inline uint16_t file_once(struct file_source *fs, struct rte_mbuf **ev,
					      uint16_t max, bool *done, bool avx2)
{
	struct file_cursor *c = &fs->cur;
	uint32_t waits = 0;
	uint64_t tsc;
	uint16_t n = 0;

	tsc = rte_rdtsc();
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
			if (!file_region_begin(fs)) {
				if (c->skip && n == 0 && waits++ < FILE_SKIP_WAITS &&
				    (uint64_t)waits * fs->read_bytes <= FILE_SKIP_BYTES &&
				    file_wait_read(fs))
					continue;
				break;
			}
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
			if (c->p_off > c->stop_off) {
				/* A long line that started in this share; the rest is skipped by
				 * the next one's owner too. */
				if (file_next_chunk(fs)) {
					file_refill(fs);
					continue;
				}
				file_finish(fs, 0);
				break;
			}
		} else if (c->p < c->end) {
			uint32_t avail = (uint32_t)(c->end - c->p);

			if (c->p_off >= c->stop_off) {
				/* The rest belongs to another share: take the next chunk, if any. */
				if (file_next_chunk(fs)) {
					file_refill(fs);
					continue;
				}
				file_finish(fs, 0);
				break;
			}
			uint32_t lim, k;

			if (fs->n_stash == 0 && !file_stash_refill(fs))
				break;
			if (file_run_lines(fs, ev, &n, max, tsc, avx2))
				continue;
			k = file_frame(fs, c->p, avail, &lim, avx2);
			if (unlikely(k == UINT32_MAX)) {
				fs->n_nombuf++;
				break;
			}
			if (k < lim) {
				/* A whole line of k bytes. */
				file_line_whole(fs, ev, &n, c->p, k, c->p_off, tsc, 0);
				c->p_off += k + 1;
				c->p += k + 1;
				continue;
			}
			if (avail > fs->line_max) {
				file_line_long(fs, ev, &n, c->p_off, tsc, 0);
				c->skip = true;
				c->p_off += lim;
				c->p += lim;
				continue;
			}
			if (b->eof) {
				/* The last line of the file has no newline. */
				file_line_end(fs, ev, &n, avail, c->p_off, tsc, 0);
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

static __attribute__((noinline)) uint16_t
file_once_sse2(struct file_source *fs, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	return file_once(fs, ev, max, done, false);
}

#if FILE_HAVE_AVX2
FILE_AVX2 __attribute__((noinline)) static uint16_t
file_once_avx2(struct file_source *fs, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	return file_once(fs, ev, max, done, true);
}
#endif

static uint16_t file_poll(void *self, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct file_source *fs = self;

	if (unlikely(fs->tail != NULL))
		return tail_poll(fs, ev, max, done);
#if FILE_HAVE_AVX2
	if (fs->avx2)
		return file_once_avx2(fs, ev, max, done);
#endif
	return file_once_sse2(fs, ev, max, done);
}

/*
 * The tail engine (follow: true, or paths:). Files are tracked in struct tail_file, found
 * by glob scans and identified by device + inode, confirmed by a fingerprint: the XXH64 of
 * their first fp_len bytes (up to TAIL_FP_BYTES; a file shorter than that when first seen
 * hashes what it has, and the hash is extended as it grows). One file is read at a time,
 * one read in flight, into one buffer laid out like the read-once buffers (a max-line
 * prefix for the carried partial line, then the read area). A file is read until a read
 * comes back short (end of file for now) or it has had its quantum while others wait; its
 * partial last line is then parked in the file's own pend buffer and copied back in front
 * of the next read. Wake-ups: inotify IN_MODIFY on each open file marks it dirty; events
 * on the glob directories (create, move, delete) trigger a scan; a scan runs every
 * glob_interval anyway, so a missed event (or a filesystem without inotify) costs at most
 * that much latency.
 */
#define TAIL_FP_BYTES	1024u /* fingerprint: hash of the first bytes, up to this many */
#define TAIL_FORGET_MAX 64    /* closed files remembered, to resume if they come back */
/* Read once: files open at a time (the rest wait their turn, struct tail.later). */
#define TAIL_ONCE_OPEN_MAX 256
#define TAIL_WARN_MAX	   256	      /* non-regular paths warned about (one warning each) */
#define TAIL_QUANTUM	   (4u << 20) /* bytes read from one file while others are dirty */
#define TAIL_SKIP_READS	   32	      /* synchronous reads per poll inside an over-long line */
#define TAIL_TAG_READ	   1
#define TAIL_TAG_POLL	   2

struct tail_file {
	char *path;
	int fd;
	int wd; /* inotify watch on the open inode, -1 without */
	uint64_t dev, ino;
	uint64_t birth;	      /* birth time in ns (tail_birth), 0 unknown */
	uint32_t fp_len;      /* bytes the fingerprint covers */
	uint64_t fp;	      /* XXH64 of the first fp_len bytes */
	uint16_t slot;	      /* top 16 bits of event_id */
	uint16_t orphan_slot; /* the slot of the content the orphan line belongs to */
	uint64_t read_off;    /* next byte to read */
	uint32_t n_pend;      /* partial line parked, starting at read_off - n_pend */
	char *pend;	      /* line_max bytes */
	bool skip;	      /* inside an over-long line: drop through its newline */
	bool dirty;	      /* may have bytes past read_off */
	bool gone;	      /* renamed out of the globs or deleted: read to EOF, then close */
	bool seen;	      /* found by the scan in progress */
	bool orphan;	      /* pend holds the last line before a truncation: emit it first */
	uint64_t pend_off;    /* file offset of pend[0] */
	uint64_t idle_tsc;    /* gone: when it last had new bytes */
};

struct tail_forgotten {
	uint64_t dev, ino, birth, fp, off;
	uint32_t fp_len;
	uint16_t slot;
	bool used;
};

struct tail {
	bool follow, start_end;
	uint64_t scan_tsc, rotate_wait_tsc, next_scan_tsc;
	char **globs;
	uint32_t n_globs;
	char **roots; /* real directories of the globs: symlinks must stay inside */
	uint32_t n_roots;
	struct tail_file **files;
	uint32_t n_files, cap_files;
	int act;     /* index of the file being read, -1 none */
	uint32_t rr; /* round-robin start among live files */
	char *mem;   /* the read buffer: prefix (line_max) then data (read_bytes) */
	char *data;
	uint32_t carry; /* partial line bytes in front of data */
	const char *p, *end;
	uint64_t p_off;
	bool inflight, have_region, eof_now;
	uint64_t read_at; /* offset of the read in flight */
	uint64_t quantum; /* bytes read from the active file since it became active */
	int ifd;	  /* inotify, -1 without */
	bool poll_armed;
	bool need_scan;
	bool yield;   /* the last file gave way after its quantum: round-robin next */
	bool started; /* the first scan ran: later files start at the beginning */
	struct tail_forgotten forgotten[TAIL_FORGET_MAX];
	uint32_t forget_next;
	/* checkpoint: (NULL path: none) */
	char *ckpt_path;
	struct sl_source_ack ack;
	uint8_t stamp;		     /* of the current epoch, in every event's flags; 0 without */
	uint64_t epoch_tsc;	     /* checkpoint_interval */
	uint64_t epoch_end_tsc;	     /* when the current epoch closes */
	bool final_closed;	     /* the last epoch is closed: nothing more is emitted */
	bool ckpt_loaded;	     /* a checkpoint existed: start_at no longer applies */
	struct sl_ckpt_file *resume; /* loaded at start, not yet matched by a scan */
	uint32_t n_resume;
	struct tail_snap {
		struct sl_ckpt_file *f;
		uint32_t n, cap;
	} snap[SL_ACK_EPOCHS];	 /* position when epoch e closed, in snap[e % SL_ACK_EPOCHS] */
	struct tail_snap stored; /* what the checkpoint file holds (controller's copy) */
	uint64_t n_resumed, n_moved, n_commits, n_commit_errors;
	char *warned[TAIL_WARN_MAX];
	uint32_t n_warned;
	uint64_t n_opened, n_closed, n_truncations, n_nonregular, n_fp_changes;
	/* Read once: files the first scan found beyond TAIL_ONCE_OPEN_MAX open ones, opened
	 * as others are closed (a glob of thousands would not fit the open-file limit). */
	struct tail_later {
		char *path;
		uint64_t dev, ino;
	} * later;
	uint32_t n_later, later_head, cap_later;
};

static bool tail_has_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Rate of warnings is bounded by the path list: each path is warned about once. Returns
 * whether this was the first warning about path. */
static bool tail_warn_once(struct file_source *fs, const char *path, const char *why)
{
	struct tail *t = fs->tail;

	for (uint32_t i = 0; i < t->n_warned; i++)
		if (strcmp(t->warned[i], path) == 0)
			return false;
	if (t->n_warned < TAIL_WARN_MAX && (t->warned[t->n_warned] = strdup(path)) != NULL)
		t->n_warned++;
	SL_WARN(fs->name, "%s: skipped: %s", path, why);
	return true;
}

/* Hash of the first len bytes of fd; false when they cannot be read. */
static bool tail_hash(int fd, uint32_t len, uint64_t *h)
{
	char buf[TAIL_FP_BYTES];
	uint32_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (uint32_t)r;
	}
	*h = XXH64(buf, len, 0);
	return true;
}

/* A slot for a file's ids; gen: 0 for a file met, else 1 + the slot it had before it started
 * over (truncated), so that its new bytes do not get the ids its old ones had at the same
 * offsets (a chain of slots, kept across restarts by the checkpoint's slot). */
static uint16_t tail_slot(struct tail *t, uint64_t dev, uint64_t ino, uint64_t fp, uint64_t gen)
{
	uint64_t key[4] = { dev, ino, fp, gen };
	uint16_t slot = (uint16_t)(XXH64(key, sizeof(key), 0) >> 48);

	/* Two open files never share a slot, so their event_ids never collide. */
	for (uint32_t tries = 0; tries < 65536; tries++, slot++) {
		bool used = false;

		for (uint32_t i = 0; i < t->n_files && !used; i++)
			used = t->files[i]->slot == slot;
		if (!used)
			break;
	}
	return slot;
}

/* Is real path rp inside one of the glob directories? */
static bool tail_inside_roots(const struct tail *t, const char *rp)
{
	for (uint32_t i = 0; i < t->n_roots; i++) {
		size_t l = strlen(t->roots[i]);

		if (strncmp(rp, t->roots[i], l) == 0 && (rp[l] == '/' || l == 1))
			return true;
	}
	return false;
}

static void tail_set_gone(struct tail_file *f)
{
	if (f->gone)
		return;
	f->gone = true;
	f->dirty = true;
	f->idle_tsc = rte_rdtsc();
}

static void tail_watch(struct file_source *fs, struct tail_file *f)
{
	char proc[64];

	f->wd = -1;
	if (fs->tail->ifd < 0 || !fs->tail->follow)
		return;
	/* Through /proc so the watch is on the inode that was opened, whatever the path
	 * names now; it follows the file across renames. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	f->wd = inotify_add_watch(fs->tail->ifd, proc,
				  IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
}

/* Reset f to read from offset 0 again (truncated, or rewritten in place). */
static void tail_restart(struct file_source *fs, struct tail_file *f, uint64_t size)
{
	/* The partial line parked before the truncation was written: deliver it. */
	f->orphan = f->n_pend && !f->skip;
	f->orphan_slot = f->slot;
	f->pend_off = f->read_off - f->n_pend;
	if (!f->orphan)
		f->n_pend = 0;
	f->read_off = 0;
	f->skip = false;
	f->fp_len = size < TAIL_FP_BYTES ? (uint32_t)size : TAIL_FP_BYTES;
	if (!tail_hash(f->fd, f->fp_len, &f->fp))
		f->fp_len = 0, f->fp = XXH64(NULL, 0, 0);
	/* Other bytes at the same offsets: other ids (the orphan, if any, keeps its own). */
	f->slot = tail_slot(fs->tail, f->dev, f->ino, f->fp, 1 + (uint64_t)f->slot);
	fs->tail->n_truncations++;
	f->dirty = true;
}

/* The birth time of the file open at fd, in ns, or 0 where the filesystem keeps none. Two
 * files on one inode number (the first deleted, the inode reused) have different ones, even
 * when they begin with the same bytes. */
static uint64_t tail_birth(int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) < 0 || !(sx.stx_mask & STATX_BTIME))
		return 0;
	return (uint64_t)sx.stx_btime.tv_sec * 1000000000ull + sx.stx_btime.tv_nsec;
}

/* Whether a file known before by birth time a is the one now open with birth time b (an
 * unknown time, 0, matches anything: the fingerprint decides alone). */
static bool tail_same_birth(uint64_t a, uint64_t b)
{
	return a == 0 || b == 0 || a == b;
}

static int tail_add(struct file_source *fs, const char *path, const struct stat *st)
{
	struct tail *t = fs->tail;
	struct tail_file *f;
	struct stat fst;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_dev != st->st_dev ||
	    fst.st_ino != st->st_ino) {
		/* Replaced between the scan and the open: the next scan sees the new one. */
		close(fd);
		return -EAGAIN;
	}
	if (t->n_files == t->cap_files) {
		uint32_t cap = t->cap_files ? t->cap_files * 2 : 8;
		struct tail_file **nf = realloc(t->files, cap * sizeof(*nf));

		if (!nf) {
			close(fd);
			return -ENOMEM;
		}
		t->files = nf;
		t->cap_files = cap;
	}
	f = calloc(1, sizeof(*f));
	if (f) {
		f->path = strdup(path);
		f->pend = malloc(fs->line_max + FILE_SLACK);
	}
	if (!f || !f->path || !f->pend) {
		if (f) {
			free(f->path);
			free(f->pend);
		}
		free(f);
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	f->dev = (uint64_t)fst.st_dev;
	f->ino = (uint64_t)fst.st_ino;
	f->birth = tail_birth(fd);
	f->fp_len = fst.st_size < TAIL_FP_BYTES ? (uint32_t)fst.st_size : TAIL_FP_BYTES;
	if (!tail_hash(fd, f->fp_len, &f->fp))
		f->fp_len = 0, f->fp = XXH64(NULL, 0, 0);
	f->dirty = true;
	/* A file in the checkpoint: resume at its committed offset if it is still the
	 * same file (same birth time, where known, and same first bytes) and still that
	 * long. */
	for (uint32_t i = 0; i < t->n_resume; i++) {
		struct sl_ckpt_file r = t->resume[i];
		uint64_t h;

		if (r.dev != f->dev || r.ino != f->ino)
			continue;
		t->resume[i] = t->resume[--t->n_resume];
		if (tail_same_birth(r.birth, f->birth) && r.fp_len <= (uint64_t)fst.st_size &&
		    tail_hash(fd, r.fp_len, &h) && h == r.fp) {
			if (r.off <= (uint64_t)fst.st_size) {
				f->read_off = r.off;
				f->skip = r.flags & SL_CKPT_F_SKIP;
				t->n_resumed++;
			} else {
				t->n_truncations++; /* shorter than what we had: rewritten */
			}
			f->slot = r.slot;
			for (uint32_t k = 0; k < t->n_files; k++)
				if (t->files[k]->slot == f->slot)
					f->slot = tail_slot(t, f->dev, f->ino, f->fp, 0);
			goto added;
		}
		t->n_fp_changes++;
		break;
	}
	/* A file seen before (renamed away and back): resume where it was closed, unless
	 * its first bytes changed (the inode was reused for another file). */
	for (uint32_t i = 0; i < TAIL_FORGET_MAX; i++) {
		struct tail_forgotten *g = &t->forgotten[i];
		uint64_t h;

		if (!g->used || g->dev != f->dev || g->ino != f->ino)
			continue;
		g->used = false;
		if (tail_same_birth(g->birth, f->birth) && g->fp_len <= (uint64_t)fst.st_size &&
		    tail_hash(fd, g->fp_len, &h) && h == g->fp && g->off <= (uint64_t)fst.st_size) {
			f->read_off = g->off;
			f->slot = g->slot;
			goto added;
		}
		t->n_fp_changes++;
	}
	f->slot = tail_slot(t, f->dev, f->ino, f->fp, 0);
	if (t->follow && t->start_end && !t->started && !t->ckpt_loaded && fst.st_size > 0) {
		char last = '\n';

		f->read_off = (uint64_t)fst.st_size;
		/* Starting inside a line: drop its rest, it was written before we came. */
		if (pread(fd, &last, 1, fst.st_size - 1) == 1 && last != '\n')
			f->skip = true;
	}
added:
	t->files[t->n_files++] = f;
	t->n_opened++;
	tail_watch(fs, f);
	return 0;
}

static void tail_consider(struct file_source *fs, const char *path)
{
	struct tail *t = fs->tail;
	struct stat lst, st;
	int rc;

	if (lstat(path, &lst) < 0)
		return;
	if (S_ISLNK(lst.st_mode)) {
		char *rp = realpath(path, NULL);
		bool inside = rp && tail_inside_roots(t, rp);

		free(rp);
		if (!inside) {
			if (tail_warn_once(fs, path,
					   "symbolic link to outside the glob directories"))
				t->n_nonregular++;
			return;
		}
	}
	if (stat(path, &st) < 0)
		return;
	if (!S_ISREG(st.st_mode)) {
		if (tail_warn_once(fs, path,
				   S_ISDIR(st.st_mode)	  ? "a directory"
				   : S_ISFIFO(st.st_mode) ? "a FIFO"
				   : S_ISSOCK(st.st_mode) ? "a socket"
							  : "not a regular file"))
			t->n_nonregular++;
		return;
	}
	for (uint32_t i = 0; i < t->n_files; i++) {
		struct tail_file *f = t->files[i];

		if (f->dev == (uint64_t)st.st_dev && f->ino == (uint64_t)st.st_ino) {
			if (strcmp(f->path, path) != 0) {
				/* Renamed inside the globs: the same file, same offset. */
				char *np = strdup(path);

				if (np) {
					free(f->path);
					f->path = np;
				}
			}
			f->seen = true;
			f->gone = false;
			return;
		}
	}
	if (!t->follow && t->n_files >= TAIL_ONCE_OPEN_MAX) {
		if (t->n_later == t->cap_later) {
			uint32_t cap = t->cap_later ? t->cap_later * 2 : 64;
			struct tail_later *nl = realloc(t->later, cap * sizeof(*nl));

			if (!nl) {
				tail_warn_once(fs, path, strerror(ENOMEM));
				return;
			}
			t->later = nl;
			t->cap_later = cap;
		}
		t->later[t->n_later].path = strdup(path);
		if (!t->later[t->n_later].path) {
			tail_warn_once(fs, path, strerror(ENOMEM));
			return;
		}
		t->later[t->n_later].dev = (uint64_t)st.st_dev;
		t->later[t->n_later++].ino = (uint64_t)st.st_ino;
		return;
	}
	rc = tail_add(fs, path, &st);
	if (rc == 0)
		t->files[t->n_files - 1]->seen = true;
	else if (rc != -EAGAIN && rc != -ENOENT)
		tail_warn_once(fs, path, strerror(-rc)); /* tried again at every scan */
}

/* Remember a file no longer open (the newest TAIL_FORGET_MAX), to resume it at off should
 * it come back unchanged (tail_add). */
static void tail_remember(struct tail *t, uint64_t dev, uint64_t ino, uint64_t birth, uint64_t fp,
			  uint32_t fp_len, uint64_t off, uint16_t slot)
{
	t->forgotten[t->forget_next] = (struct tail_forgotten){ .dev = dev,
								.ino = ino,
								.birth = birth,
								.fp = fp,
								.fp_len = fp_len,
								.off = off,
								.slot = slot,
								.used = true };
	t->forget_next = (t->forget_next + 1) % TAIL_FORGET_MAX;
}

/* Close file i (read to its end): its parked partial line is emitted by the caller. */
static void tail_close(struct file_source *fs, uint32_t i)
{
	struct tail *t = fs->tail;
	struct tail_file *f = t->files[i];
	struct stat st;

	/* Remembered, so that it resumes where it was if it comes back under a watched name
	 * (renamed away and back). Not a deleted file: its inode number may be reused at once
	 * for a new file, whose first bytes may well be the same (a short file begins as the
	 * old one did), and that file must be read from its start. */
	if (fstat(f->fd, &st) < 0 || st.st_nlink > 0)
		tail_remember(t, f->dev, f->ino, f->birth, f->fp, f->fp_len, f->read_off, f->slot);
	if (f->wd >= 0)
		inotify_rm_watch(t->ifd, f->wd);
	close(f->fd);
	free(f->path);
	free(f->pend);
	free(f);
	memmove(&t->files[i], &t->files[i + 1], (t->n_files - i - 1) * sizeof(*t->files));
	t->n_files--;
	if (t->act == (int)i)
		t->act = -1;
	else if (t->act > (int)i)
		t->act--;
	t->n_closed++;
}

/* Check a file that is not being read: gone (no links), truncated, rewritten. */
static void tail_check(struct file_source *fs, struct tail_file *f)
{
	struct stat st;
	uint64_t h;

	if (fstat(f->fd, &st) < 0)
		return;
	if (st.st_nlink == 0)
		tail_set_gone(f);
	if ((uint64_t)st.st_size < f->read_off) {
		tail_restart(fs, f, (uint64_t)st.st_size);
		return;
	}
	if ((uint64_t)st.st_size > f->read_off)
		f->dirty = true;
	/* Same size or larger, but other first bytes: truncated and rewritten before we
	 * looked (copytruncate with a fast writer). */
	if (f->fp_len && tail_hash(f->fd, f->fp_len, &h) && h != f->fp) {
		tail_restart(fs, f, (uint64_t)st.st_size);
		return;
	}
	if (f->fp_len < TAIL_FP_BYTES && (uint64_t)st.st_size > f->fp_len) {
		uint32_t l = st.st_size < TAIL_FP_BYTES ? (uint32_t)st.st_size : TAIL_FP_BYTES;

		if (tail_hash(f->fd, l, &h)) {
			f->fp_len = l;
			f->fp = h;
		}
	}
}

static int tail_later_cmp(const void *a, const void *b)
{
	const struct tail_later *x = *(const struct tail_later *const *)a;
	const struct tail_later *y = *(const struct tail_later *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x < y ? -1 : x > y; /* the earlier entry first */
}

/* Read once: a file the scan found twice (two globs, hard links) is read once, at its
 * first place in the list (sorted by identity, not compared pair by pair: a glob may
 * match many thousands). A file also open now is caught when its entry comes up. */
static void tail_later_dedupe(struct tail *t)
{
	struct tail_later **by_id;

	if (t->n_later < 2 || !(by_id = malloc(t->n_later * sizeof(*by_id))))
		return;
	for (uint32_t i = 0; i < t->n_later; i++)
		by_id[i] = &t->later[i];
	qsort(by_id, t->n_later, sizeof(*by_id), tail_later_cmp);
	for (uint32_t i = 1; i < t->n_later; i++) {
		if (by_id[i]->dev == by_id[i - 1]->dev && by_id[i]->ino == by_id[i - 1]->ino) {
			free(by_id[i]->path);
			by_id[i]->path = NULL;
		}
	}
	free(by_id);
}

static void tail_scan(struct file_source *fs)
{
	struct tail *t = fs->tail;

	for (uint32_t i = 0; i < t->n_files; i++)
		t->files[i]->seen = false;
	for (uint32_t g = 0; g < t->n_globs; g++) {
		glob_t gl;

		if (glob(t->globs[g], 0, NULL, &gl) != 0)
			continue;
		for (size_t k = 0; k < gl.gl_pathc; k++)
			tail_consider(fs, gl.gl_pathv[k]);
		globfree(&gl);
	}
	for (uint32_t i = 0; i < t->n_files; i++) {
		struct tail_file *f = t->files[i];

		if (!f->seen)
			tail_set_gone(f);
		if ((int)i != t->act)
			tail_check(fs, f);
	}
	t->started = true;
	t->need_scan = false;
}

static void tail_poll_arm(struct file_source *fs)
{
	struct tail *t = fs->tail;
	struct io_uring_sqe *sqe;

	if (!fs->uring || t->ifd < 0 || t->poll_armed)
		return;
	sqe = io_uring_get_sqe(&fs->ring);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, t->ifd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAIL_TAG_POLL);
	io_uring_submit(&fs->ring);
	t->poll_armed = true;
}

static struct tail_file *tail_by_wd(struct tail *t, int wd)
{
	for (uint32_t i = 0; i < t->n_files; i++)
		if (t->files[i]->wd == wd)
			return t->files[i];
	return NULL;
}

/* Drain the inotify queue: mark files dirty, ask for a scan on directory changes. */
static void tail_drain_inotify(struct file_source *fs)
{
	struct tail *t = fs->tail;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t r = read(t->ifd, buf, sizeof(buf));

		if (r <= 0)
			break;
		for (char *q = buf; q < buf + r;) {
			const struct inotify_event *e = (const struct inotify_event *)(void *)q;
			struct tail_file *f = e->wd >= 0 ? tail_by_wd(t, e->wd) : NULL;

			if (e->mask & IN_Q_OVERFLOW) {
				t->need_scan = true;
				for (uint32_t i = 0; i < t->n_files; i++)
					t->files[i]->dirty = true;
			} else if (f) {
				f->dirty = true;
				if (e->mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF))
					t->need_scan = true;
			} else if (!(e->mask & IN_IGNORED)) {
				t->need_scan = true;
			}
			q += sizeof(*e) + e->len;
		}
	}
}

/* Completions: the read in flight and the inotify poll. No syscall when there are none. */
static void tail_reap(struct file_source *fs, int *read_res, bool *read_done)
{
	struct tail *t = fs->tail;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	*read_done = false;
	if (!fs->uring) {
		if (t->ifd >= 0)
			tail_drain_inotify(fs);
		return;
	}
	io_uring_for_each_cqe (&fs->ring, head, cqe) {
		if (io_uring_cqe_get_data64(cqe) == TAIL_TAG_POLL) {
			t->poll_armed = false;
		} else {
			*read_res = cqe->res;
			*read_done = true;
		}
		seen++;
	}
	io_uring_cq_advance(&fs->ring, seen);
	if (seen && !t->poll_armed && t->ifd >= 0) {
		tail_drain_inotify(fs);
		tail_poll_arm(fs);
	}
}

static void tail_submit_read(struct file_source *fs, struct tail_file *f)
{
	struct tail *t = fs->tail;
	struct io_uring_sqe *sqe;

	t->read_at = f->read_off;
	t->inflight = true;
	if (fs->uring && (sqe = io_uring_get_sqe(&fs->ring)) != NULL) {
		io_uring_prep_read(sqe, f->fd, t->data, fs->read_bytes, f->read_off);
		io_uring_sqe_set_data64(sqe, TAIL_TAG_READ);
		io_uring_submit(&fs->ring);
	}
}

/* Emit the parked partial line of f as a line of its own (the file ended without the
 * rest). Needs an mbuf in the stash. */
static void tail_emit_pend(struct file_source *fs, struct tail_file *f, struct rte_mbuf **ev,
			   uint16_t *n, uint64_t tsc)
{
	uint64_t off = f->orphan ? f->pend_off : f->read_off - f->n_pend;

	if (f->n_pend && (!f->skip || f->orphan)) {
		memcpy(rte_pktmbuf_mtod(fs->stash[fs->n_stash - 1], char *), f->pend, f->n_pend);
		fs->cur.slot = f->orphan ? f->orphan_slot : f->slot;
		file_line_end(fs, ev, n, f->n_pend, off, tsc, fs->tail->stamp);
	}
	f->n_pend = 0;
	f->orphan = false;
}

/* Park the active file: its partial line goes to its pend buffer. */
static void tail_park(struct file_source *fs, struct tail_file *f)
{
	struct tail *t = fs->tail;
	uint32_t tail = (uint32_t)(t->end - t->p);

	SL_BUG_ON_HOT(tail > fs->line_max);
	memcpy(f->pend, t->p, tail);
	f->n_pend = tail;
	t->have_region = false;
	t->carry = 0;
	t->act = -1;
}

/* Frame complete lines of the region into ev. Returns false when ev is full. */
static bool tail_frame(struct file_source *fs, struct tail_file *f, struct rte_mbuf **ev,
		       uint16_t *n, uint16_t max, uint64_t tsc)
{
	struct tail *t = fs->tail;

	fs->cur.slot = f->slot;
	while (t->p < t->end) {
		uint32_t avail = (uint32_t)(t->end - t->p);
		uint32_t lim, k;

		if (*n >= max)
			return false;
		if (f->skip) {
			const char *q = memchr(t->p, '\n', avail);

			if (!q) {
				t->p_off += avail;
				t->p = t->end;
				break;
			}
			t->p_off += (uint64_t)(q + 1 - t->p);
			t->p = q + 1;
			f->skip = false;
			continue;
		}
		if (fs->n_stash == 0 && !file_stash_refill(fs))
			return false;
		k = file_frame(fs, t->p, avail, &lim, false);
		if (unlikely(k == UINT32_MAX)) {
			fs->n_nombuf++;
			return false;
		}
		if (k < lim) {
			file_line_whole(fs, ev, n, t->p, k, t->p_off, tsc, t->stamp);
			t->p_off += k + 1;
			t->p += k + 1;
			continue;
		}
		if (avail > fs->line_max) {
			file_line_long(fs, ev, n, t->p_off, tsc, t->stamp);
			f->skip = true;
			t->p_off += lim;
			t->p += lim;
			continue;
		}
		break; /* a partial line: wait for its end */
	}
	return true;
}

/* Pick the next file to read: gone files first (finish the old file before the new),
 * then live ones round-robin. */
static int tail_pick(struct tail *t)
{
	for (uint32_t i = 0; i < t->n_files && !t->yield; i++)
		if (t->files[i]->gone && t->files[i]->dirty)
			return (int)i;
	t->yield = false;
	for (uint32_t k = 0; k < t->n_files; k++) {
		uint32_t i = (t->rr + k) % t->n_files;

		if (t->files[i]->dirty) {
			t->rr = i + 1;
			return (int)i;
		}
	}
	return -1;
}

static bool tail_others_dirty(const struct tail *t)
{
	for (uint32_t i = 0; i < t->n_files; i++)
		if ((int)i != t->act && t->files[i]->dirty)
			return true;
	return false;
}

/* A read of res bytes into data completed for the active file. */
static void tail_read_done(struct file_source *fs, struct tail_file *f, int res)
{
	struct tail *t = fs->tail;

	t->inflight = false;
	if (res == -EAGAIN || res == -EINTR) {
		tail_submit_read(fs, f);
		return;
	}
	if (res < 0) {
		fs->n_read_errors++;
		SL_ERR(fs->name, "%s: read error at offset %" PRIu64 ": %s", f->path, t->read_at,
		       strerror(-res));
		tail_set_gone(f); /* closed after rotate_wait, like a deleted file */
		res = 0;
	}
	t->p = t->data - t->carry;
	t->end = t->data + res;
	t->p_off = t->read_at - t->carry;
	t->have_region = true;
	t->eof_now = (uint32_t)res < fs->read_bytes;
	f->read_off = t->read_at + (uint64_t)res;
	fs->n_bytes += (uint64_t)res;
	t->quantum += (uint64_t)res;
	if (res > 0 && f->gone)
		f->idle_tsc = rte_rdtsc();
}

/* Run the read and framing of the active file as far as ev and the data allow. */
static void tail_run(struct file_source *fs, struct rte_mbuf **ev, uint16_t *n, uint16_t max,
		     uint64_t tsc)
{
	struct tail *t = fs->tail;
	unsigned n_sync = 0;

	while (*n < max) {
		struct tail_file *f;

		if (t->act < 0) {
			t->act = tail_pick(t);
			if (t->act < 0)
				return;
			f = t->files[t->act];
			f->dirty = false;
			tail_check(fs, f);
			f->dirty = false;
			if (f->orphan) {
				if (fs->n_stash == 0 && !file_stash_refill(fs)) {
					f->dirty = true;
					t->act = -1;
					return;
				}
				tail_emit_pend(fs, f, ev, n, tsc);
			}
			/* Its parked partial line goes back in front of the read area. */
			memcpy(t->data - f->n_pend, f->pend, f->n_pend);
			t->carry = f->n_pend;
			f->n_pend = 0;
			t->quantum = 0;
			t->have_region = false;
		}
		f = t->files[t->act];
		if (!t->have_region) {
			/* Inside an over-long line a read makes no event, so the worker would
			 * back off to sleeping between reads (1 ms each once idle for 10 ms: a
			 * 1 GiB line took 28 s with 128 KiB reads): read it synchronously,
			 * TAIL_SKIP_READS reads per poll at most. */
			bool sync =
				!fs->uring || (f->skip && !t->inflight && n_sync < TAIL_SKIP_READS);

			if (!t->inflight) {
				if (sync) {
					t->read_at = f->read_off;
					t->inflight = true;
					n_sync++;
				} else {
					int res = 0;
					bool rd;

					/* A read from the page cache of a filesystem with nowait reads
					 * (ext4, xfs) completes within the submit: take it now rather
					 * than on the next poll. */
					tail_submit_read(fs, f);
					tail_reap(fs, &res, &rd);
					if (rd)
						tail_read_done(fs, f, res);
				}
			}
			if (sync) {
				ssize_t r;

				do
					r = pread(f->fd, t->data, fs->read_bytes,
						  (off_t)t->read_at);
				while (r < 0 && errno == EINTR);
				tail_read_done(fs, f, r < 0 ? -errno : (int)r);
			}
			if (!t->have_region)
				return; /* in flight: the next poll reaps it */
			/* Ingest time: when the bytes were read, not when the poll began (its
			 * scan and checks come first; cold start and age count from here). */
			tsc = rte_rdtsc();
		}
		if (!tail_frame(fs, f, ev, n, max, tsc))
			return;
		/* Region consumed up to a partial line. */
		if (t->eof_now || (t->quantum >= TAIL_QUANTUM && tail_others_dirty(t))) {
			if (!t->eof_now) {
				f->dirty = true;
				t->yield = true;
			}
			tail_park(fs, f);
			continue;
		}
		t->carry = (uint32_t)(t->end - t->p);
		if (t->carry)
			memmove(t->data - t->carry, t->p, t->carry);
		t->have_region = false;
	}
}

/* Close gone files idle for rotate_wait (every file, when not following), emitting
 * their parked partial lines. */
static void tail_retire(struct file_source *fs, struct rte_mbuf **ev, uint16_t *n, uint16_t max,
			uint64_t now)
{
	struct tail *t = fs->tail;

	for (uint32_t i = 0; i < t->n_files && *n < max;) {
		struct tail_file *f = t->files[i];

		/* Signed: idle_tsc may be later than now (set during this poll). */
		if ((int)i == t->act || f->dirty ||
		    (t->follow &&
		     (!f->gone || (int64_t)(now - f->idle_tsc) < (int64_t)t->rotate_wait_tsc))) {
			i++;
			continue;
		}
		if (f->n_pend && !f->skip) {
			if (fs->n_stash == 0 && !file_stash_refill(fs))
				return;
			tail_emit_pend(fs, f, ev, n, now);
		}
		tail_close(fs, i);
	}
}

/* Offset of the first byte of f (file i) not yet emitted: where a restart resumes. */
static uint64_t tail_emitted_off(const struct tail *t, uint32_t i, const struct tail_file *f)
{
	if ((int)i == t->act)
		return t->have_region ? t->p_off : f->read_off - t->carry;
	/* An orphan's parked line belongs to the content before a truncation. */
	return f->orphan ? f->read_off : f->read_off - f->n_pend;
}

static bool tail_snap_reserve(struct tail_snap *sn, uint32_t n)
{
	struct sl_ckpt_file *nf;

	if (n <= sn->cap)
		return true;
	nf = realloc(sn->f, n * sizeof(*nf));
	if (!nf)
		return false;
	sn->f = nf;
	sn->cap = n;
	return true;
}

/*
 * Close the current epoch: record where every file stands (open files at the first byte
 * not yet emitted, closed ones where they were closed) and open the next epoch. Returns
 * false when SL_ACK_EPOCHS - 1 epochs are open already (the caller pauses reading); the
 * last close (final) is always possible, so stopping never waits for a commit.
 */
static bool tail_epoch_close(struct file_source *fs, bool final)
{
	struct tail *t = fs->tail;
	uint64_t opened = t->ack.opened;
	/* Pairs with the release in the controller's commit: the slot is free again. */
	uint64_t committed = __atomic_load_n(&t->ack.committed, __ATOMIC_ACQUIRE);
	struct tail_snap *sn = &t->snap[(opened - 1) % SL_ACK_EPOCHS];
	uint32_t n = 0;

	if (!final && opened + 1 - committed > SL_ACK_EPOCHS - 1)
		return false;
	/* Allocation once a second at most, and only when the file count grew. */
	if (!tail_snap_reserve(sn, t->n_files + TAIL_FORGET_MAX))
		return false;
	for (uint32_t i = 0; i < t->n_files; i++) {
		const struct tail_file *f = t->files[i];

		sn->f[n++] = (struct sl_ckpt_file){ .dev = f->dev,
						    .ino = f->ino,
						    .birth = f->birth,
						    .fp = f->fp,
						    .fp_len = f->fp_len,
						    .off = tail_emitted_off(t, i, f),
						    .slot = f->slot,
						    .flags = f->skip ? SL_CKPT_F_SKIP : 0 };
	}
	for (uint32_t i = 0; i < TAIL_FORGET_MAX; i++) {
		const struct tail_forgotten *g = &t->forgotten[i];

		if (g->used)
			sn->f[n++] = (struct sl_ckpt_file){ .dev = g->dev,
							    .ino = g->ino,
							    .birth = g->birth,
							    .fp = g->fp,
							    .fp_len = g->fp_len,
							    .off = g->off,
							    .slot = g->slot };
	}
	sn->n = n;
	t->stamp = sl_ack_stamp(opened);
	/* Pairs with the controller's acquire: the position of epoch opened - 1, and the
	 * counts of every event stamped with it, are visible before it is seen closed. */
	__atomic_store_n(&t->ack.opened, opened + 1, __ATOMIC_RELEASE);
	return true;
}

static bool tail_snap_same(const struct tail_snap *a, const struct tail_snap *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct sl_ckpt_file *x = &a->f[i], *y = &b->f[i];

		if (x->dev != y->dev || x->ino != y->ino || x->fp != y->fp || x->off != y->off ||
		    x->fp_len != y->fp_len || x->slot != y->slot || x->flags != y->flags ||
		    x->birth != y->birth)
			return false;
	}
	return true;
}

static int file_commit(void *self, uint64_t epoch)
{
	struct file_source *fs = self;
	struct tail *t = fs->tail;
	const struct tail_snap *sn = &t->snap[epoch % SL_ACK_EPOCHS];
	char msg[512];
	int rc;

	/* An idle source closes an epoch every interval: rewrite only what changed. */
	if (t->n_commits && tail_snap_same(sn, &t->stored))
		return 0;
	rc = sl_ckpt_store(t->ckpt_path, sn->f, sn->n, msg, sizeof(msg));
	if (rc < 0) {
		/* Rate: once per failing commit, at most once per checkpoint_interval. */
		if (t->n_commit_errors++ == 0 || t->n_commit_errors % 64 == 0)
			SL_ERR(fs->name, "%s (the previous checkpoint stays)", msg);
		return rc;
	}
	if (tail_snap_reserve(&t->stored, sn->n)) {
		memcpy(t->stored.f, sn->f, sn->n * sizeof(*sn->f));
		t->stored.n = sn->n;
	}
	t->n_commits++;
	return 0;
}

static struct sl_source_ack *file_ack(void *self)
{
	struct file_source *fs = self;

	return fs->tail && fs->tail->ckpt_path ? &fs->tail->ack : NULL;
}

static uint16_t tail_poll(struct file_source *fs, struct rte_mbuf **ev, uint16_t max, bool *done)
{
	struct tail *t = fs->tail;
	uint64_t now = rte_rdtsc();
	uint16_t n = 0;
	int res = 0;
	bool read_done;

	if (__atomic_load_n(&fs->stopped, __ATOMIC_RELAXED)) {
		if (t->ckpt_path && !t->final_closed)
			t->final_closed = tail_epoch_close(fs, true);
		*done = true;
		return 0;
	}
	if (unlikely(t->ckpt_path != NULL) && now >= t->epoch_end_tsc) {
		/* K epochs open: nothing is read until the sinks catch up (backpressure). */
		if (!tail_epoch_close(fs, false))
			return 0;
		t->epoch_end_tsc = now + t->epoch_tsc;
	}
	if (!t->poll_armed)
		tail_poll_arm(fs);
	tail_reap(fs, &res, &read_done);
	if (read_done && t->act >= 0)
		tail_read_done(fs, t->files[t->act], res);
	if (t->follow && (t->need_scan || now >= t->next_scan_tsc)) {
		tail_scan(fs);
		t->next_scan_tsc = now + t->scan_tsc;
	}
	tail_run(fs, ev, &n, max, now);
	if (t->act < 0)
		tail_retire(fs, ev, &n, max, now);
	/* Read once: the files waiting for an open slot, in the order the scan found them. */
	while (t->later_head < t->n_later && t->n_files < TAIL_ONCE_OPEN_MAX) {
		struct tail_later *l = &t->later[t->later_head++];

		if (l->path) /* NULL: the same file as an earlier entry (tail_later_dedupe) */
			tail_consider(fs, l->path);
		free(l->path);
		l->path = NULL;
	}
	*done = !t->follow && t->n_files == 0 && t->later_head == t->n_later;
	if (*done && t->ckpt_path && !t->final_closed) {
		/* This poll's events belong to the current epoch: closing it now counts them
		 * in, because the runtime adds their counts before the next poll only. The
		 * close therefore waits for the next poll. */
		*done = false;
		if (n == 0)
			*done = t->final_closed = tail_epoch_close(fs, true);
	}
	return n;
}

/* Checkpoint set-up: the directory, the previous checkpoint (a damaged one stops the
 * start: resuming from a guess could lose or repeat anything), the first epoch. */
static int tail_ckpt_open(struct file_source *fs, const struct sl_args *args, const char *path,
			  struct sl_error *err)
{
	struct tail *t = fs->tail;
	const struct sl_arg *a = sl_args_get(args, "checkpoint_interval");
	uint64_t ns = 1000000000ull;
	int rc;

	err->key = "checkpoint";
	rc = sl_ckpt_prepare(path, err->msg, sizeof(err->msg));
	if (rc < 0)
		return rc;
	rc = sl_ckpt_load(path, &t->resume, &t->n_resume, err->msg, sizeof(err->msg));
	if (rc < 0 && rc != -ENOENT)
		return rc;
	t->ckpt_loaded = rc == 0;
	err->msg[0] = '\0';
	err->key = NULL;
	if (t->ckpt_loaded)
		SL_INFO(fs->name, "checkpoint %s: resuming %u file(s)", path, t->n_resume);
	t->ckpt_path = strdup(path);
	if (!t->ckpt_path)
		return -ENOMEM;
	if (a && a->str)
		sl_window_parse(a->str, &ns);
	t->epoch_tsc = ns / 1000 * (rte_get_tsc_hz() / 1000) / 1000;
	t->epoch_end_tsc = rte_rdtsc() + t->epoch_tsc;
	t->ack.opened = 1;
	t->stamp = sl_ack_stamp(0);
	return 0;
}

/*
 * Files of the checkpoint that the first scan did not find may have been rotated out of the
 * globs while Sluice was stopped (app.log -> app.log.1 beside it, with paths: [app.log]).
 * Look for them by device and inode in the glob directories; one whose first bytes still
 * match is read from its committed offset to its end, like a file renamed away while open
 * (gone: closed after rotate_wait). Files created and rotated away while stopped were never
 * in a checkpoint and cannot be found this way.
 */
static void tail_find_moved(struct file_source *fs)
{
	struct tail *t = fs->tail;

	for (uint32_t r = 0; r < t->n_roots && t->n_resume; r++) {
		DIR *d = opendir(t->roots[r]);
		struct dirent *de;

		if (!d)
			continue;
		while (t->n_resume && (de = readdir(d)) != NULL) {
			const struct sl_ckpt_file *hit = NULL;
			char path[PATH_MAX];
			struct stat st;
			uint64_t h;
			int fd;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			for (uint32_t i = 0; i < t->n_resume && !hit; i++)
				if (t->resume[i].dev == (uint64_t)st.st_dev &&
				    t->resume[i].ino == (uint64_t)st.st_ino)
					hit = &t->resume[i];
			if (!hit || hit->fp_len > (uint64_t)st.st_size ||
			    snprintf(path, sizeof(path), "%s/%s", t->roots[r], de->d_name) >=
				    (int)sizeof(path))
				continue;
			/* Only the same file: an inode reused for another would be read whole. */
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
			if (fd < 0)
				continue;
			if (!tail_same_birth(hit->birth, tail_birth(fd)) ||
			    !tail_hash(fd, hit->fp_len, &h) || h != hit->fp) {
				close(fd);
				continue;
			}
			close(fd);
			if (tail_add(fs, path, &st) == 0) {
				tail_set_gone(t->files[t->n_files - 1]);
				t->n_moved++;
				SL_INFO(fs->name,
					"%s: moved out of the globs while stopped: reading it "
					"from its checkpoint to its end",
					path);
			}
		}
		closedir(d);
	}
}

/* Set up the tail engine: globs, their directories, inotify, the first scan. */
static int tail_create(struct file_source *fs, const struct sl_args *args, bool follow,
		       struct sl_error *err)
{
	const struct sl_arg *paths = sl_args_get(args, "paths");
	const struct sl_arg *path = sl_args_get(args, "path");
	const struct sl_arg *a;
	struct tail *t;
	uint64_t ns;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	fs->tail = t;
	t->follow = follow;
	t->act = -1;
	t->ifd = -1;
	a = sl_args_get(args, "start_at");
	t->start_end = a && a->str && strcmp(a->str, "end") == 0;
	a = sl_args_get(args, "glob_interval");
	ns = 1000000000ull;
	if (a && a->str)
		sl_window_parse(a->str, &ns);
	t->scan_tsc = ns / 1000 * (rte_get_tsc_hz() / 1000) / 1000;
	a = sl_args_get(args, "rotate_wait");
	ns = 1000000000ull;
	if (a && a->str)
		sl_window_parse(a->str, &ns);
	t->rotate_wait_tsc = ns / 1000 * (rte_get_tsc_hz() / 1000) / 1000;
	t->n_globs = paths && paths->n_list ? paths->n_list : 1;
	t->globs = calloc(t->n_globs, sizeof(*t->globs));
	t->roots = calloc(t->n_globs, sizeof(*t->roots));
	t->mem = NULL;
	if (!t->globs || !t->roots ||
	    posix_memalign((void **)&t->mem, 64,
			   RTE_ALIGN_CEIL(fs->line_max, 64) + (size_t)fs->read_bytes + FILE_SLACK))
		return -ENOMEM;
	memset(t->mem, 0, RTE_ALIGN_CEIL(fs->line_max, 64) + (size_t)fs->read_bytes + FILE_SLACK);
	t->data = t->mem + RTE_ALIGN_CEIL(fs->line_max, 64);
	if (follow) {
		t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (t->ifd < 0)
			SL_WARN(fs->name,
				"inotify unavailable (%s): new data is found by the %s scan",
				strerror(errno), "glob_interval");
	}
	for (uint32_t g = 0; g < t->n_globs; g++) {
		const char *pat = paths && paths->n_list ? paths->list[g] : path->str;
		char *dir = strdup(pat), *slash;

		t->globs[g] = strdup(pat);
		if (!t->globs[g] || !dir) {
			free(dir);
			return -ENOMEM;
		}
		/* The directory part, cut back to its longest prefix without glob characters. */
		for (bool first = true; first || tail_has_magic(dir); first = false) {
			slash = strrchr(dir, '/');
			if (!slash) {
				strcpy(dir, ".");
				break;
			}
			slash[slash == dir ? 1 : 0] = '\0';
			if (slash == dir)
				break;
		}
		t->roots[t->n_roots] = realpath(dir, NULL);
		if (t->roots[t->n_roots]) {
			if (t->ifd >= 0)
				inotify_add_watch(t->ifd, t->roots[t->n_roots],
						  IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
							  IN_DELETE | IN_ATTRIB);
			t->n_roots++;
		}
		free(dir);
	}
	a = sl_args_get(args, "checkpoint");
	if (a && a->str) {
		int rc = tail_ckpt_open(fs, args, a->str, err);

		if (rc < 0)
			return rc;
	}
	tail_scan(fs);
	tail_later_dedupe(t);
	if (t->ckpt_path && t->n_resume)
		tail_find_moved(fs);
	if (t->ckpt_path) {
		/* Files of the checkpoint no scan found (renamed out of the globs, deleted, not
		 * there yet) are remembered like closed files: if one comes back unchanged it
		 * resumes; the newest TAIL_FORGET_MAX stay in later checkpoints. */
		for (uint32_t i = 0; i < t->n_resume; i++) {
			const struct sl_ckpt_file *r = &t->resume[i];

			tail_remember(t, r->dev, r->ino, r->birth, r->fp, r->fp_len, r->off,
				      r->slot);
		}
		free(t->resume);
		t->resume = NULL;
		t->n_resume = 0;
	}
	t->next_scan_tsc = rte_rdtsc() + t->scan_tsc;
	if (t->n_files == 0)
		SL_WARN(fs->name, "no file matches %s%s", t->globs[0],
			follow ? " yet: waiting for one" : "");
	(void)err;
	return 0;
}

static void tail_destroy(struct file_source *fs)
{
	struct tail *t = fs->tail;

	if (!t)
		return;
	while (t->n_files)
		tail_close(fs, t->n_files - 1);
	free(t->files);
	for (uint32_t i = t->later_head; i < t->n_later; i++)
		free(t->later[i].path);
	free(t->later);
	if (t->ifd >= 0)
		close(t->ifd);
	for (uint32_t i = 0; i < t->n_globs && t->globs; i++)
		free(t->globs[i]);
	for (uint32_t i = 0; i < t->n_roots; i++)
		free(t->roots[i]);
	for (uint32_t i = 0; i < t->n_warned; i++)
		free(t->warned[i]);
	free(t->globs);
	free(t->roots);
	free(t->mem);
	for (uint32_t i = 0; i < SL_ACK_EPOCHS; i++)
		free(t->snap[i].f);
	free(t->stored.f);
	free(t->resume);
	free(t->ckpt_path);
	free(t);
	fs->tail = NULL;
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

	int w = snprintf(buf, len,
			 "lines=%" PRIu64 " bytes=%" PRIu64 " truncated=%" PRIu64 " empty=%" PRIu64
			 " nombuf=%" PRIu64 " read_errors=%" PRIu64 " skipped_long=%" PRIu64,
			 fs->n_lines, fs->n_bytes, fs->n_truncated, fs->n_empty, fs->n_nombuf,
			 fs->n_read_errors, fs->n_skipped);
	const struct tail *t = fs->tail;
	uint64_t pend = 0;

	if (!t || w < 0 || (size_t)w >= len)
		return;
	for (uint32_t i = 0; i < t->n_files; i++)
		pend += t->files[i]->n_pend;
	snprintf(buf + w, len - (size_t)w,
		 " files_opened=%" PRIu64 " files_closed=%" PRIu64 " truncations=%" PRIu64
		 " inode_reused=%" PRIu64 " nonregular_skipped=%" PRIu64 " partial_bytes=%" PRIu64,
		 t->n_opened, t->n_closed, t->n_truncations, t->n_fp_changes, t->n_nonregular,
		 pend);
	if (t->ckpt_path) {
		size_t l = strlen(buf);

		snprintf(buf + l, len - l,
			 " resumed=%" PRIu64 " moved=%" PRIu64 " epochs=%" PRIu64
			 " committed=%" PRIu64 " checkpoints=%" PRIu64
			 " checkpoint_errors=%" PRIu64,
			 t->n_resumed, t->n_moved,
			 __atomic_load_n(&t->ack.opened, __ATOMIC_RELAXED) - 1,
			 __atomic_load_n(&t->ack.committed, __ATOMIC_RELAXED), t->n_commits,
			 t->n_commit_errors);
	}
}

static void file_destroy(void *self)
{
	struct file_source *fs = self;

	if (!fs)
		return;
	file_claims_put(fs->claims);
	if (fs->uring && fs->tail) {
		/* The tail engine's read may be in flight into its buffer; its inotify poll
		 * owns no memory and is cancelled with the ring. */
		while (fs->tail->inflight) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&fs->ring, &cqe) < 0)
				break;
			if (io_uring_cqe_get_data64(cqe) == TAIL_TAG_READ)
				fs->tail->inflight = false;
			io_uring_cqe_seen(&fs->ring, cqe);
		}
	}
	tail_destroy(fs);
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
	static const char *const durations[] = { "glob_interval", "rotate_wait",
						 "checkpoint_interval" };
	const struct sl_arg *path = sl_args_get(args, "path");
	const struct sl_arg *paths = sl_args_get(args, "paths");
	const struct sl_arg *a;
	int64_t read_bytes = file_arg_int(args, "read_bytes", 128 << 10);
	int64_t depth = file_arg_int(args, "queue_depth", 4);
	int64_t max_line = file_arg_int(args, "max_line_bytes", 0);
	bool has_path = path && path->str;
	bool has_paths = paths && paths->n_list > 0;

	if (has_path && has_paths) {
		err->key = "paths";
		snprintf(err->msg, sizeof(err->msg), "give path or paths, not both");
		return -EINVAL;
	}
	if (!has_paths && (!has_path || !path->str[0])) {
		err->key = has_path || !paths || !paths->line ? "path" : "paths";
		snprintf(err->msg, sizeof(err->msg), "a file path is required (path or paths)");
		return -EINVAL;
	}
	for (uint32_t i = 0; has_paths && i < paths->n_list; i++) {
		if (!paths->list[i][0]) {
			err->key = "paths";
			snprintf(err->msg, sizeof(err->msg), "paths: entry %u is empty", i + 1);
			return -EINVAL;
		}
	}
	a = sl_args_get(args, "max_line_policy");
	if (a && a->str && strcmp(a->str, "truncate") != 0 && strcmp(a->str, "skip") != 0) {
		err->key = "max_line_policy";
		snprintf(err->msg, sizeof(err->msg), "expected truncate or skip, got '%s'", a->str);
		return -EINVAL;
	}
	a = sl_args_get(args, "start_at");
	if (a && a->str && strcmp(a->str, "beginning") != 0 && strcmp(a->str, "end") != 0) {
		err->key = "start_at";
		snprintf(err->msg, sizeof(err->msg), "expected beginning or end, got '%s'", a->str);
		return -EINVAL;
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(durations); i++) {
		uint64_t ns;

		a = sl_args_get(args, durations[i]);
		if (a && a->str &&
		    (sl_window_parse(a->str, &ns) < 0 || ns < 1000000 || ns > 3600000000000ull)) {
			err->key = durations[i];
			snprintf(err->msg, sizeof(err->msg),
				 "expected a duration from 1ms to 1h like 1s or 250ms, got '%s'",
				 a->str);
			return -EINVAL;
		}
	}
	if (read_bytes < 1 || read_bytes > FILE_READ_MAX) {
		err->key = "read_bytes";
		snprintf(err->msg, sizeof(err->msg), "must be 1..%u, not %" PRId64, FILE_READ_MAX,
			 read_bytes);
		return -EINVAL;
	}
	if (depth < 1 || depth > FILE_DEPTH_MAX) {
		err->key = "queue_depth";
		snprintf(err->msg, sizeof(err->msg), "must be 1..%d, not %" PRId64, FILE_DEPTH_MAX,
			 depth);
		return -EINVAL;
	}
	/* The pipeline's events hold lines up to half the data room (event.h); file_create
	 * checks against its pool's own figure too. */
	if (max_line < 0 || max_line > SL_EVENT_DATA_ROOM / 2) {
		err->key = "max_line_bytes";
		snprintf(err->msg, sizeof(err->msg),
			 "must be 0..%u (what fits an event), not %" PRId64, SL_EVENT_DATA_ROOM / 2,
			 max_line);
		return -EINVAL;
	}
	a = sl_args_get(args, "checkpoint");
	if (a && a->str && !a->str[0]) {
		err->key = "checkpoint";
		snprintf(err->msg, sizeof(err->msg), "a file path is required");
		return -EINVAL;
	}
	return 0;
}

/* Only the read-once engine splits (byte ranges of one file); the tail engine reads any
 * number of files one at a time, as they grow. */
static bool file_can_split(const struct sl_args *args)
{
	const struct sl_arg *follow = sl_args_get(args, "follow");
	const struct sl_arg *paths = sl_args_get(args, "paths");
	const struct sl_arg *ckpt = sl_args_get(args, "checkpoint");

	/* A checkpoint needs fingerprints and per-file offsets: the tail engine's. */
	return !(follow && follow->b) && !(paths && paths->n_list) && !(ckpt && ckpt->str);
}

static int file_create(const struct sl_args *args, const struct sl_io_env *env, void **self,
		       struct sl_error *err)
{
	const struct sl_arg *path = sl_args_get(args, "path");
	int64_t read_bytes = file_arg_int(args, "read_bytes", 128 << 10);
	int64_t depth = file_arg_int(args, "queue_depth", 4);
	int64_t max_line = file_arg_int(args, "max_line_bytes", 0);
	uint32_t room = sl_source_line_room(env->pool);
	const struct sl_arg *a;
	struct file_source *fs;
	bool follow;
	int rc;

	*self = NULL;
	rc = file_check(args, err);
	if (rc < 0)
		return rc;
	if (room == 0) {
		err->key = NULL;
		snprintf(err->msg, sizeof(err->msg),
			 "events are too small for lines: data room %u bytes",
			 rte_pktmbuf_data_room_size(env->pool) - RTE_PKTMBUF_HEADROOM);
		return -EINVAL;
	}
	if (max_line < 0 || max_line > room) {
		err->key = "max_line_bytes";
		snprintf(err->msg, sizeof(err->msg),
			 "must be 0..%u (what fits an event), not %" PRId64, room, max_line);
		return -EINVAL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->cur.fd = -1;
	fs->pool = env->pool;
	fs->meta_offset = env->meta_offset;
	fs->node_id = env->node_id;
	fs->line_keep = max_line ? (uint32_t)max_line : room;
	a = sl_args_get(args, "strip_cr");
	fs->line_max = fs->line_keep + (a && a->b ? 1 : 0);
	fs->line_small = RTE_MIN(fs->line_keep, sl_event_line_max_small(env->pool));
	fs->read_bytes = (uint32_t)read_bytes;
	fs->depth = (uint32_t)depth;
	a = sl_args_get(args, "max_line_policy");
	fs->skip_long = a && a->str && strcmp(a->str, "skip") == 0;
	a = sl_args_get(args, "strip_cr");
	fs->strip_cr = a && a->b;
#if FILE_HAVE_AVX2
	/* SLUICE_NO_AVX2 (any value) keeps the 16-byte loop: tests run both. */
	fs->avx2 = __builtin_cpu_supports("avx2") && !getenv("SLUICE_NO_AVX2");
#endif
	a = sl_args_get(args, "follow");
	follow = a && a->b;
	a = sl_args_get(args, "paths");
	if (!file_can_split(args)) {
		if (env->n_replicas > 1) {
			const char *why = follow	   ? "follow: true"
					  : a && a->n_list ? "paths:"
							   : "checkpoint:";

			err->key = follow ? "follow" : a && a->n_list ? "paths" : "checkpoint";
			snprintf(err->msg, sizeof(err->msg),
				 "%s cannot be split between replicas: set replicas: 1 on this "
				 "source (and do not give it --replicas)",
				 why);
			rc = -EINVAL;
			goto err_free;
		}
		fs->name = strdup(env->name ? env->name : "file");
		fs->path = strdup(path && path->str ? path->str : a->list[0]);
		if (!fs->name || !fs->path) {
			rc = -ENOMEM;
			goto err_free;
		}
		rc = tail_create(fs, args, follow, err);
		if (rc < 0)
			goto err_free;
		fs->uring = sl_io_uring_init(&fs->ring, 4, "file");
		*self = fs;
		return 0;
	}
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
	if (env->n_replicas > 1) {
		fs->claims = file_claims_get(env->node_id, env->replica, env->n_replicas, fs->size);
		if (fs->claims)
			file_seek_chunk(fs, env->replica);
		else
			file_share(fs, env->replica, env->n_replicas);
	}
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
	.summary = "read files (once, or follow them through rotation) and emit one line event "
		   "per line (io_uring, pread fallback)",
	.flags = SL_SOURCE_F_REPLICAS,
	.params = file_params,
	.create = file_create,
	.check = file_check,
	.can_split = file_can_split,
	.poll = file_poll,
	.stop = file_stop,
	.ack = file_ack,
	.commit = file_commit,
	.summary_line = file_summary_line,
	.destroy = file_destroy,
};
