/*
 * Unit tests for the `file` source: files with known content (long lines, CRLF, empty
 * lines, no final newline, lines straddling tiny reads) are read with many read sizes and
 * queue depths, through io_uring and through the pread fallback (SLUICE_NO_URING=1), and
 * every event's bytes, event_id offset and flags are compared with a plain split of the
 * same bytes done here. Also: create errors name the path and the parameter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "eal.h"
#include "source/source.h"

#define TEST_ROOM 100 /* line room of the test pool: half its 200-byte data room */

static struct rte_mempool *pool;
static int meta_off;
static char tmpdir[] = "/tmp/sl_file_test_XXXXXX";

struct want_line {
	uint64_t off;
	uint32_t len;
	bool truncated;
};

/* The expected events: split on '\n', drop empty lines, cut at line_max. */
static uint32_t split_lines(const char *d, size_t len, uint32_t line_max, struct want_line *w,
			    uint32_t cap, uint64_t *n_empty)
{
	uint32_t n = 0;
	size_t start = 0;

	*n_empty = 0;
	for (size_t i = 0; i <= len; i++) {
		size_t l;

		if (i < len && d[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		l = i - start;
		if (l == 0) {
			(*n_empty)++;
		} else {
			assert_true(n < cap);
			w[n].off = start;
			w[n].len = l > line_max ? line_max : (uint32_t)l;
			w[n].truncated = l > line_max;
			n++;
		}
		start = i + 1;
	}
	return n;
}

struct test_args {
	struct sl_arg v[4];
	struct sl_args a;
};

static void make_args(struct test_args *t, const char *path, int64_t read_bytes, int64_t depth,
		      int64_t max_line)
{
	memset(t, 0, sizeof(*t));
	t->v[0] = (struct sl_arg){ .key = "path", .type = SL_PARAM_STR, .str = path };
	t->v[1] = (struct sl_arg){ .key = "read_bytes", .type = SL_PARAM_INT, .i = read_bytes };
	t->v[2] = (struct sl_arg){ .key = "queue_depth", .type = SL_PARAM_INT, .i = depth };
	t->v[3] = (struct sl_arg){ .key = "max_line_bytes", .type = SL_PARAM_INT, .i = max_line };
	t->a = (struct sl_args){ .file = "test.yaml", .name = "src", .n = 4, .v = t->v };
}

static struct sl_io_env test_env(void)
{
	return (struct sl_io_env){ .pool = pool,
				   .meta_offset = meta_off,
				   .node_id = 7,
				   .name = "src",
				   .file = "test.yaml",
				   .tsc_hz = 1000000000 };
}

static void write_file(const char *path, const char *d, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Read path with the given settings and check every event against split_lines. */
static void check_read(const char *d, size_t len, int64_t read_bytes, int64_t depth,
		       int64_t max_line, uint16_t burst)
{
	static struct want_line w[20000];
	struct sl_io_env env = test_env();
	struct test_args ta;
	struct sl_error err = { 0 };
	uint32_t line_max = max_line ? (uint32_t)max_line : TEST_ROOM;
	uint64_t n_empty, got = 0, n_trunc = 0;
	uint32_t n_want = split_lines(d, len, line_max, w, 20000, &n_empty);
	char path[256], summary[256], expect[256];
	void *src = NULL;
	bool done = false;
	int polls = 0;

	snprintf(path, sizeof(path), "%s/in.log", tmpdir);
	write_file(path, d, len);
	make_args(&ta, path, read_bytes, depth, max_line);
	assert_int_equal(sl_source_file.create(&ta.a, &env, &src, &err), 0);
	while (!done) {
		struct rte_mbuf *ev[64];
		uint16_t n = sl_source_file.poll(src, ev, burst, &done);

		assert_true(n <= burst);
		for (uint16_t i = 0; i < n; i++) {
			struct sl_meta *m = sl_event_meta(meta_off, ev[i]);
			const struct want_line *x;

			assert_true(got < n_want);
			x = &w[got];
			if (m->event_id != x->off || ev[i]->data_len != x->len ||
			    memcmp(rte_pktmbuf_mtod(ev[i], char *), d + x->off, x->len) != 0)
				fail_msg("read_bytes=%ld depth=%ld line %lu: got id %lu len %u, "
					 "want off %lu len %u",
					 (long)read_bytes, (long)depth, (unsigned long)got,
					 (unsigned long)m->event_id, ev[i]->data_len,
					 (unsigned long)x->off, x->len);
			assert_int_equal(ev[i]->pkt_len, x->len);
			assert_int_equal(m->raw_len, x->len);
			assert_int_equal(m->kind, SL_EVENT_LINE);
			assert_int_equal(m->source, 7);
			assert_int_equal(m->rec_off, 0);
			assert_int_equal(m->flags, x->truncated ? SL_META_F_TRUNCATED : 0);
			n_trunc += x->truncated;
			got++;
			rte_pktmbuf_free(ev[i]);
		}
		assert_true(++polls < 10000000);
	}
	assert_int_equal(got, n_want);
	/* Polling after done stays done and produces nothing. */
	{
		struct rte_mbuf *ev[4];

		done = false;
		assert_int_equal(sl_source_file.poll(src, ev, 4, &done), 0);
		assert_true(done);
	}
	sl_source_file.summary_line(src, summary, sizeof(summary));
	snprintf(expect, sizeof(expect), "lines=%lu bytes=%lu truncated=%lu empty=%lu ",
		 (unsigned long)n_want, (unsigned long)len, (unsigned long)n_trunc,
		 (unsigned long)n_empty);
	if (strncmp(summary, expect, strlen(expect)) != 0)
		fail_msg("summary '%s', want it to start with '%s'", summary, expect);
	sl_source_file.destroy(src);
	unlink(path);
}

/* A file exercising every framing case with a 100-byte line room. */
static size_t tricky_content(char *d)
{
	size_t n = 0;

	n += (size_t)sprintf(d + n, "alpha\n\nbeta\r\n\r\n");
	memset(d + n, 'L', 250); /* longer than the room: truncated to 100, rest skipped */
	n += 250;
	d[n++] = '\n';
	n += (size_t)sprintf(d + n, "after-long\n\n\n");
	memset(d + n, 'x', 100); /* exactly the room */
	n += 100;
	d[n++] = '\n';
	memset(d + n, 'y', 101); /* one more than the room */
	n += 101;
	d[n++] = '\n';
	for (int i = 0; i < 40; i++)
		n += (size_t)sprintf(d + n, "line %d %.*s\n", i, i % 13, "abcdefghijklmnop");
	memset(d + n, 'Z', 3000); /* far longer than any read size below */
	n += 3000;
	n += (size_t)sprintf(d + n, "\ncrlf\r\nlast line without newline");
	return n;
}

static void run_matrix(void)
{
	static const int64_t reads[] = { 1, 2, 7, 64, 99, 100, 101, 4096, 1 << 20 };
	static const int64_t depths[] = { 1, 2, 4 };
	static char d[8192];
	size_t len = tricky_content(d);

	for (size_t r = 0; r < sizeof(reads) / sizeof(reads[0]); r++)
		for (size_t q = 0; q < sizeof(depths) / sizeof(depths[0]); q++)
			check_read(d, len, reads[r], depths[q], 0, 5);
	/* A smaller max_line_bytes, and bursts of 1 and 64. */
	check_read(d, len, 7, 4, 10, 1);
	check_read(d, len, 4096, 4, 0, 64);
}

static void test_framing_uring(void **state)
{
	unsetenv("SLUICE_NO_URING");
	run_matrix();
}

static void test_framing_pread(void **state)
{
	setenv("SLUICE_NO_URING", "1", 1);
	run_matrix();
	unsetenv("SLUICE_NO_URING");
}

/* Lines of every length from 0 to past the room, so newlines fall at every position of a
 * 16- and a 32-byte vector and lines end right at, before and after the room. */
static size_t sweep_content(char *d)
{
	size_t n = 0;

	for (int len = 0; len <= TEST_ROOM + 40; len++) {
		for (int i = 0; i < len; i++)
			d[n++] = (char)('a' + (len + i) % 26);
		d[n++] = '\n';
	}
	return n;
}

/* The read-once engine frames with a 32-byte loop where the CPU has AVX2, else (and with
 * SLUICE_NO_AVX2) with the 16-byte one: both give the same events. */
static void test_framing_vector_widths(void **state)
{
	static const int64_t reads[] = { 33, 100, 4096 };
	static char d[16384];
	size_t len = sweep_content(d);

	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("SLUICE_NO_AVX2", "1", 1);
		for (size_t r = 0; r < sizeof(reads) / sizeof(reads[0]); r++) {
			check_read(d, len, reads[r], 2, 0, 7);
			check_read(d, len, reads[r], 4, 50, 64);
		}
		if (pass)
			run_matrix();
	}
	unsetenv("SLUICE_NO_AVX2");
}

static void test_edge_files(void **state)
{
	static char big[200000];
	uint64_t s = 12345;
	size_t n = 0;

	for (int k = 0; k < 2; k++) {
		if (k)
			setenv("SLUICE_NO_URING", "1", 1);
		check_read("", 0, 7, 4, 0, 5);			/* empty file */
		check_read("\n\n\n", 3, 2, 4, 0, 5);		/* only empty lines */
		check_read("one", 3, 7, 4, 0, 5);		/* no newline at all */
		check_read("abcdef\n", 7, 7, 4, 0, 5);		/* newline ends the first read */
		check_read("abcdefg\nh", 9, 7, 4, 0, 5);	/* newline starts the second */
		check_read("abcdefghijklmn\n", 15, 7, 2, 0, 5); /* ends exactly at 2 reads */
		unsetenv("SLUICE_NO_URING");
	}
	/* Random lines of 0..150 bytes (some over the room) with random read sizes. */
	while (n < sizeof(big) - 200) {
		uint32_t l;

		s = s * 6364136223846793005ull + 1442695040888963407ull;
		l = (uint32_t)(s >> 33) % 151;
		for (uint32_t i = 0; i < l; i++)
			big[n++] = (char)('a' + (s >> (i % 50)) % 26);
		big[n++] = '\n';
	}
	check_read(big, n, 4093, 3, 0, 32);
	check_read(big, n, 65536, 4, 0, 64);
	setenv("SLUICE_NO_URING", "1", 1);
	check_read(big, n, 333, 2, 0, 32);
	unsetenv("SLUICE_NO_URING");
}

static void expect_create_error(const char *path, int64_t rb, int64_t depth, int64_t ml,
				int want_rc, const char *want_key, const char *want_in_msg)
{
	struct sl_io_env env = test_env();
	struct test_args ta;
	struct sl_error err = { 0 };
	void *src = (void *)1;

	make_args(&ta, path, rb, depth, ml);
	assert_int_equal(sl_source_file.create(&ta.a, &env, &src, &err), want_rc);
	assert_null(src);
	assert_non_null(err.key);
	assert_string_equal(err.key, want_key);
	if (!strstr(err.msg, want_in_msg))
		fail_msg("message '%s' lacks '%s'", err.msg, want_in_msg);
}

static void test_create_errors(void **state)
{
	char missing[256], ok[256];

	snprintf(missing, sizeof(missing), "%s/does-not-exist.log", tmpdir);
	snprintf(ok, sizeof(ok), "%s/ok.log", tmpdir);
	write_file(ok, "x\n", 2);
	expect_create_error(missing, 4096, 4, 0, -ENOENT, "path", missing);
	expect_create_error(missing, 4096, 4, 0, -ENOENT, "path", strerror(ENOENT));
	expect_create_error(tmpdir, 4096, 4, 0, -EISDIR, "path", strerror(EISDIR));
	expect_create_error("/dev/null", 4096, 4, 0, -EINVAL, "path", "not a regular file");
	expect_create_error("", 4096, 4, 0, -EINVAL, "path", "required");
	expect_create_error(ok, 0, 4, 0, -EINVAL, "read_bytes", "must be 1..");
	expect_create_error(ok, 4096, 0, 0, -EINVAL, "queue_depth", "must be 1..");
	expect_create_error(ok, 4096, 65, 0, -EINVAL, "queue_depth", "not 65");
	expect_create_error(ok, 4096, 4, TEST_ROOM + 1, -EINVAL, "max_line_bytes", "100");
	unlink(ok);
}

static void test_stop(void **state)
{
	struct sl_io_env env = test_env();
	struct test_args ta;
	struct sl_error err = { 0 };
	struct rte_mbuf *ev[4];
	char path[256];
	void *src;
	bool done = false;
	uint16_t n;

	snprintf(path, sizeof(path), "%s/stop.log", tmpdir);
	write_file(path, "a\nb\nc\nd\ne\nf\n", 12);
	make_args(&ta, path, 4096, 4, 0);
	assert_int_equal(sl_source_file.create(&ta.a, &env, &src, &err), 0);
	/* io_uring may need a poll or two before the first read completes. */
	for (int i = 0; i < 1000000 && (n = sl_source_file.poll(src, ev, 2, &done)) == 0; i++)
		;
	assert_int_equal(n, 2);
	assert_false(done);
	rte_pktmbuf_free_bulk(ev, n);
	sl_source_file.stop(src);
	assert_int_equal(sl_source_file.poll(src, ev, 4, &done), 0);
	assert_true(done);
	sl_source_file.destroy(src);
	unlink(path);
}

static void test_table(void **state)
{
	assert_ptr_equal(sl_source_find("file"), &sl_source_file);
	assert_ptr_equal(sl_source_find("gen"), &sl_source_gen);
	assert_null(sl_source_find("nope"));
	assert_ptr_equal(sl_source_at(0), &sl_source_file);
	assert_ptr_equal(sl_source_at(1), &sl_source_gen);
	/* Any kinds after those: each found by its own name, and the table ends. */
	for (uint32_t i = 2; sl_source_at(i) && i < 64; i++)
		assert_ptr_equal(sl_source_find(sl_source_at(i)->type), sl_source_at(i));
	assert_null(sl_source_at(64));
	/* The line room rule: half the data room (after headroom). */
	assert_int_equal(sl_source_line_room(pool), TEST_ROOM);
	/* path (or paths, checked by check) has no default; the rest have defaults the loader
	 * fills in. */
	assert_string_equal(sl_source_file.params[0].name, "path");
	assert_false(sl_source_file.params[0].required);
	assert_null(sl_source_file.params[0].def);
	assert_string_equal(sl_source_file.params[1].def, "131072");
}

/*
 * Replicas split a file: each line is read by exactly one replica, whole (or truncated as
 * without replicas), whatever the chunk boundaries cut: mid-line, at a line start, inside
 * a truncated line. The replicas are all created first (as the runtime does: they share
 * the chunk counter), then read one after the other, in an order that varies, so chunks
 * are handed out unevenly; the events, sorted by offset, must be exactly the file's lines.
 */
struct got_line {
	uint64_t off;
	uint32_t len;
};

static int got_cmp(const void *a, const void *b)
{
	const struct got_line *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static void check_shares(const char *d, size_t len, const char *name)
{
	static struct want_line w[20000];
	static struct got_line g[20000];
	static const int64_t reads[] = { 7, 64, 4096 };
	static const uint16_t shares[] = { 2, 3, 5, 16 };
	char path[256];
	uint64_t n_empty;
	uint32_t n_want;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	write_file(path, d, len);
	n_want = split_lines(d, len, TEST_ROOM, w, 20000, &n_empty);
	for (size_t r = 0; r < sizeof(reads) / sizeof(reads[0]); r++)
		for (size_t s = 0; s < sizeof(shares) / sizeof(shares[0]); s++) {
			void *src[16] = { NULL };
			struct test_args ta[16];
			uint32_t got = 0;

			for (uint16_t k = 0; k < shares[s]; k++) {
				struct sl_io_env env = test_env();
				struct sl_error err = { 0 };

				env.replica = k;
				env.n_replicas = shares[s];
				make_args(&ta[k], path, reads[r], 4, 0);
				assert_int_equal(
					sl_source_file.create(&ta[k].a, &env, &src[k], &err), 0);
			}
			for (uint16_t j = 0; j < shares[s]; j++) {
				/* Odd rounds read the last replica first. */
				uint16_t k = (r + s) % 2 ? (uint16_t)(shares[s] - 1 - j) : j;
				bool done = false;

				while (!done) {
					struct rte_mbuf *ev[64];
					uint16_t n = sl_source_file.poll(src[k], ev, 64, &done);

					for (uint16_t i = 0; i < n; i++) {
						struct sl_meta *m = sl_event_meta(meta_off, ev[i]);
						uint64_t off = m->event_id & ((1ull << 48) - 1);

						if (got >= 20000 ||
						    memcmp(rte_pktmbuf_mtod(ev[i], char *), d + off,
							   ev[i]->data_len) != 0)
							fail_msg("%s read_bytes=%ld replicas=%u "
								 "replica "
								 "%u: event at %lu is not the "
								 "file's "
								 "bytes there",
								 name, (long)reads[r], shares[s], k,
								 (unsigned long)off);
						g[got].off = off;
						g[got].len = ev[i]->data_len;
						got++;
					}
					rte_pktmbuf_free_bulk(ev, n);
				}
			}
			for (uint16_t k = 0; k < shares[s]; k++)
				sl_source_file.destroy(src[k]);
			if (got != n_want)
				fail_msg("%s read_bytes=%ld replicas=%u: %u events, want %u", name,
					 (long)reads[r], shares[s], got, n_want);
			qsort(g, got, sizeof(g[0]), got_cmp);
			for (uint32_t i = 0; i < got; i++)
				if (g[i].off != w[i].off || g[i].len != w[i].len)
					fail_msg(
						"%s read_bytes=%ld replicas=%u: line %u at %lu len "
						"%u, want %lu len %u",
						name, (long)reads[r], shares[s], i,
						(unsigned long)g[i].off, g[i].len,
						(unsigned long)w[i].off, w[i].len);
		}
	unlink(path);
}

static void test_replicas_share_lines(void **st)
{
	char *d = malloc(40000);
	size_t len = 0;
	uint64_t seed = 12345;

	(void)st;
	assert_non_null(d);
	/* 80 lines of exactly 9 bytes + newline: every share boundary (800 bytes split 2, 5
	 * and 16 ways) falls exactly on a line start. */
	for (int i = 0; i < 80; i++)
		len += (size_t)sprintf(d + len, "line %04d\n", i);
	check_shares(d, len, "aligned.log");
	/* Lines of 0..250 bytes (some over the 100-byte room), no final newline. */
	len = 0;
	while (len < 30000) {
		uint32_t l;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		l = (uint32_t)(seed >> 33) % 251;
		for (uint32_t i = 0; i < l; i++)
			d[len++] = (char)('a' + (seed >> (i % 50)) % 26);
		d[len++] = '\n';
	}
	check_shares(d, len - 1, "random.log");
	/* Fewer bytes than replicas: most shares are empty. */
	check_shares("ab\ncd", 5, "tiny.log");
	free(d);
}

/*
 * The tail engine (follow: true / paths:), driven directly: lines appended after create
 * arrive with their file offsets in event_id; a partial last line waits for its end; a
 * truncation restarts at offset 0 and first delivers the partial line parked before it;
 * every event of one file carries the same slot, and two files get different slots.
 */
struct tail_args {
	struct sl_arg v[8];
	struct sl_args a;
	const char *globs[2];
};

static void tail_make_args(struct tail_args *t, const char *glob, bool follow)
{
	memset(t, 0, sizeof(*t));
	t->globs[0] = glob;
	t->v[0] = (struct sl_arg){
		.key = "paths", .type = SL_PARAM_LIST, .list = t->globs, .n_list = 1, .line = 1
	};
	t->v[1] = (struct sl_arg){ .key = "follow", .type = SL_PARAM_BOOL, .b = follow };
	t->v[2] = (struct sl_arg){ .key = "read_bytes", .type = SL_PARAM_INT, .i = 16 };
	t->v[3] = (struct sl_arg){ .key = "rotate_wait", .type = SL_PARAM_STR, .str = "10ms" };
	t->v[4] = (struct sl_arg){ .key = "glob_interval", .type = SL_PARAM_STR, .str = "20ms" };
	t->a = (struct sl_args){ .file = "test.yaml", .name = "src", .n = 5, .v = t->v };
}

/* Poll until want events came (or ms milliseconds passed); their text joined by '|'. */
static uint32_t tail_collect_ms(void *src, uint32_t want, char *out, size_t cap, uint64_t *ids,
				int ms)
{
	uint32_t got = 0;
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < ms && got < want; i++) {
		struct rte_mbuf *ev[8];
		bool done = false;
		uint16_t n = sl_source_file.poll(src, ev, 8, &done);

		assert_false(done);
		for (uint16_t k = 0; k < n; k++) {
			len += (size_t)snprintf(out + len, cap - len, "%s%.*s", got ? "|" : "",
						ev[k]->data_len, rte_pktmbuf_mtod(ev[k], char *));
			ids[got++] = sl_event_meta(meta_off, ev[k])->event_id;
			rte_pktmbuf_free(ev[k]);
		}
		if (!n)
			usleep(1000);
	}
	return got;
}

static uint32_t tail_collect(void *src, uint32_t want, char *out, size_t cap, uint64_t *ids)
{
	return tail_collect_ms(src, want, out, cap, ids, 3000);
}

static void append(const char *path, const char *s)
{
	FILE *f = fopen(path, "ab");

	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
	assert_int_equal(fclose(f), 0);
}

static void check_follow(void)
{
	struct sl_io_env env = test_env();
	struct sl_error err = { 0 };
	struct tail_args ta;
	char dir[256], glob[300], a[300], b[300], out[512];
	uint64_t ids[16];
	void *src = NULL;
	uint16_t slot_a;

	snprintf(dir, sizeof(dir), "%s/follow", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(glob, sizeof(glob), "%s/*.log", dir);
	snprintf(a, sizeof(a), "%s/a.log", dir);
	snprintf(b, sizeof(b), "%s/b.log", dir);
	write_file(a, "one\ntwo\npart", 12);
	tail_make_args(&ta, glob, true);
	assert_int_equal(sl_source_file.create(&ta.a, &env, &src, &err), 0);
	assert_int_equal(tail_collect(src, 2, out, sizeof(out), ids), 2);
	assert_string_equal(out, "one|two");
	assert_int_equal(ids[0] & 0xffffffffffffull, 0);
	assert_int_equal(ids[1] & 0xffffffffffffull, 4);
	slot_a = (uint16_t)(ids[0] >> 48);
	assert_int_equal(ids[1] >> 48, slot_a);
	/* Nothing new: polls return nothing, quickly, and the source is not done. */
	assert_int_equal(tail_collect_ms(src, 1, out, sizeof(out), ids, 30), 0);
	/* The partial line is completed; a line longer than a read (16 bytes) follows. */
	append(a, "ial\nthis line is longer than a read\n");
	assert_int_equal(tail_collect(src, 2, out, sizeof(out), ids), 2);
	assert_string_equal(out, "partial|this line is longer than a read");
	assert_int_equal(ids[0] & 0xffffffffffffull, 8);
	assert_int_equal(ids[1] & 0xffffffffffffull, 16);
	assert_int_equal(ids[0] >> 48, slot_a);
	/* A second file: its own slot. */
	write_file(b, "bee\n", 4);
	assert_int_equal(tail_collect(src, 1, out, sizeof(out), ids), 1);
	assert_string_equal(out, "bee");
	assert_int_not_equal(ids[0] >> 48, slot_a);
	/* Truncated in place with a partial line parked: the partial line first, then the
	 * new content from offset 0. */
	append(a, "cut");
	assert_int_equal(tail_collect_ms(src, 1, out, sizeof(out), ids, 50), 0);
	assert_int_equal(truncate(a, 0), 0);
	append(a, "fresh\n");
	assert_int_equal(tail_collect(src, 2, out, sizeof(out), ids), 2);
	assert_string_equal(out, "cut|fresh");
	assert_int_equal(ids[1] & 0xffffffffffffull, 0);
	/* Deleted: read to its end, closed after rotate_wait; the source goes on. */
	assert_int_equal(unlink(b), 0);
	append(a, "still here\n");
	assert_int_equal(tail_collect(src, 1, out, sizeof(out), ids), 1);
	assert_string_equal(out, "still here");
	sl_source_file.summary_line(src, out, sizeof(out));
	if (!strstr(out, "truncations=1 "))
		fail_msg("summary '%s' lacks truncations=1", out);
	sl_source_file.destroy(src);
	unlink(a);
	rmdir(dir);
}

static void test_follow_uring(void **state)
{
	unsetenv("SLUICE_NO_URING");
	check_follow();
}

static void test_follow_pread(void **state)
{
	setenv("SLUICE_NO_URING", "1", 1);
	check_follow();
	unsetenv("SLUICE_NO_URING");
}

/* A file over 4 GiB (sparse), followed from its end: offsets past 2^32 in event_id. */
static void test_follow_over_4gib(void **state)
{
	struct sl_io_env env = test_env();
	struct sl_error err = { 0 };
	struct tail_args ta;
	const uint64_t size = 5ull << 30;
	char path[256], out[256];
	uint64_t ids[4];
	void *src = NULL;

	snprintf(path, sizeof(path), "%s/big.log", tmpdir);
	write_file(path, "", 0);
	assert_int_equal(truncate(path, (off_t)size), 0);
	tail_make_args(&ta, path, true);
	ta.v[5] = (struct sl_arg){ .key = "start_at", .type = SL_PARAM_STR, .str = "end" };
	ta.a.n = 6;
	assert_int_equal(sl_source_file.create(&ta.a, &env, &src, &err), 0);
	append(path, "\nbeyond\n");
	assert_int_equal(tail_collect(src, 1, out, sizeof(out), ids), 1);
	/* The file ended inside a line (of NULs): its rest, the "\n", is dropped. */
	assert_string_equal(out, "beyond");
	assert_int_equal(ids[0] & 0xffffffffffffull, size + 1);
	sl_source_file.destroy(src);
	unlink(path);
}

/* Only one path read once splits between replicas; the config loader asks can_split. */
static void test_can_split(void **state)
{
	struct tail_args ta;
	struct test_args once;

	make_args(&once, "x.log", 4096, 4, 0);
	assert_true(sl_source_file.can_split(&once.a));
	tail_make_args(&ta, "*.log", true);
	assert_false(sl_source_file.can_split(&ta.a));
	tail_make_args(&ta, "*.log", false);
	assert_false(sl_source_file.can_split(&ta.a));
}

/* Parameters the tail engine adds are judged by check, each error naming its key. */
static void test_tail_check_errors(void **state)
{
	static const struct {
		const char *key, *val, *want_key, *want_msg;
	} cases[] = {
		{ "max_line_policy", "drop", "max_line_policy", "truncate or skip" },
		{ "start_at", "middle", "start_at", "beginning or end" },
		{ "glob_interval", "soon", "glob_interval", "duration" },
		{ "rotate_wait", "0ms", "rotate_wait", "duration" },
		{ "path", "x.log", "paths", "not both" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tail_args ta;
		struct sl_error err = { 0 };

		uint32_t k = 0;

		tail_make_args(&ta, "/tmp/*.log", true);
		/* Replace the key if the defaults have it, else add it. */
		while (k < ta.a.n && strcmp(ta.v[k].key, cases[i].key) != 0)
			k++;
		ta.v[k] = (struct sl_arg){ .key = cases[i].key,
					   .type = SL_PARAM_STR,
					   .str = cases[i].val };
		if (k == ta.a.n)
			ta.a.n++;
		assert_int_equal(sl_source_file.check(&ta.a, &err), -EINVAL);
		assert_string_equal(err.key, cases[i].want_key);
		if (!strstr(err.msg, cases[i].want_msg))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].key, err.msg,
				 cases[i].want_msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_framing_uring),
		cmocka_unit_test(test_framing_pread),
		cmocka_unit_test(test_framing_vector_widths),
		cmocka_unit_test(test_edge_files),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_replicas_share_lines),
		cmocka_unit_test(test_follow_uring),
		cmocka_unit_test(test_follow_pread),
		cmocka_unit_test(test_follow_over_4gib),
		cmocka_unit_test(test_tail_check_errors),
		cmocka_unit_test(test_can_split),
	};
	struct io_uring ring;
	int rc;

	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	pool = sl_test_pool(512, 2 * TEST_ROOM, &meta_off);
	if (io_uring_queue_init(4, &ring, 0) == 0)
		io_uring_queue_exit(&ring);
	else
		printf("# io_uring unavailable here: the uring cases exercise the fallback\n");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return rc;
}
