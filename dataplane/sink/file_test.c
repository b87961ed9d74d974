/*
 * Unit tests for the `file` sink and the shared event formatter: line and record events
 * are written raw and as JSON lines, through io_uring and the pwrite fallback, and the
 * file read back is compared with text written out here by hand (or, for thousands of
 * events, assembled here from the same inputs). Also: append vs truncate, mkdir of parent
 * directories, encode errors counted, every event returned to the pool, create errors.
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

#include "eal.h"
#include "sink/sink.h"

static struct rte_mempool *pool;
static int meta_off;
static unsigned pool_size = 4096;
static char tmpdir[] = "/tmp/sl_sink_test_XXXXXX";

static struct rte_mbuf *line_event(const char *s)
{
	struct rte_mbuf *m = sl_test_line_event(pool, meta_off, s);

	assert_non_null(m);
	return m;
}

/* A record event: the line (may be empty) then a record {"host": host, "status": st}. */
static struct rte_mbuf *record_event(const char *line, const char *host, int64_t st)
{
	struct rte_mbuf *m = line_event(line);
	struct sl_meta *meta = sl_event_meta(meta_off, m);
	struct sl_rec_writer w;
	uint32_t n;

	sl_rec_begin(&w, rte_pktmbuf_mtod_offset(m, char *, m->data_len), rte_pktmbuf_tailroom(m));
	sl_rec_put_str(&w, "host", host, strlen(host));
	sl_rec_put_int(&w, "status", st);
	n = sl_rec_end(&w);
	assert_true(n > 0);
	meta->kind = SL_EVENT_RECORD;
	meta->rec_off = m->data_len;
	rte_pktmbuf_append(m, (uint16_t)n);
	return m;
}

/* A record event whose record is not msgpack at all. */
static struct rte_mbuf *broken_record_event(void)
{
	struct rte_mbuf *m = line_event("");
	struct sl_meta *meta = sl_event_meta(meta_off, m);

	memcpy(rte_pktmbuf_append(m, 2), "\xc1\xc1", 2);
	meta->kind = SL_EVENT_RECORD;
	meta->rec_off = 0;
	return m;
}

struct sink_args {
	struct sl_arg v[5];
	struct sl_args a;
};

static void make_args(struct sink_args *t, const char *path, const char *format, bool mk,
		      bool append, bool fsync_)
{
	t->v[0] = (struct sl_arg){ .key = "path", .type = SL_PARAM_STR, .str = path };
	t->v[1] = (struct sl_arg){ .key = "format", .type = SL_PARAM_STR, .str = format };
	t->v[2] = (struct sl_arg){ .key = "mkdir", .type = SL_PARAM_BOOL, .b = mk };
	t->v[3] = (struct sl_arg){ .key = "append", .type = SL_PARAM_BOOL, .b = append };
	t->v[4] = (struct sl_arg){ .key = "fsync", .type = SL_PARAM_BOOL, .b = fsync_ };
	t->a = (struct sl_args){ .file = "t.yaml", .name = "out", .n = 5, .v = t->v };
}

static struct sl_io_env test_env(void)
{
	return (struct sl_io_env){ .pool = pool,
				   .meta_offset = meta_off,
				   .node_id = 1,
				   .name = "out",
				   .file = "t.yaml",
				   .tsc_hz = 1000000000 };
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Offer all events, as the runtime does: what is not taken is offered again. */
static void write_all(void *s, struct rte_mbuf **ev, uint32_t n)
{
	uint32_t done = 0;
	int spins = 0;

	while (done < n) {
		uint16_t burst = n - done > 64 ? 64 : (uint16_t)(n - done);
		uint16_t k = sl_sink_file.write(s, ev + done, burst);

		done += k;
		if (k == 0)
			assert_int_equal(sl_sink_file.flush(s, false), 0);
		assert_true(++spins < 10000000);
	}
}

static void sink_roundtrip(const char *format, const char *want, bool nested)
{
	struct sl_io_env env = test_env();
	struct sink_args ta;
	struct sl_error err = { 0 };
	struct rte_mbuf *ev[6];
	char path[256], summary[256];
	size_t len;
	char *got;
	void *s;

	snprintf(path, sizeof(path), nested ? "%s/a/b/out.%s" : "%s/out.%s", tmpdir, format);
	make_args(&ta, path, format, true, false, false);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	ev[0] = line_event("GET / 200");
	ev[1] = line_event("quote \" tab \t bad \xff end");
	ev[2] = record_event("1.2.3.4 GET /x", "h1", 404);
	ev[3] = record_event("", "h\"2", -1);
	ev[4] = broken_record_event();
	ev[5] = line_event("");
	write_all(s, ev, 6);
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.summary_line(s, summary, sizeof(summary));
	sl_sink_file.destroy(s);
	got = read_all(path, &len);
	assert_int_equal(len, strlen(want));
	assert_string_equal(got, want);
	/* The broken record has no raw line, so both formats must encode it, and cannot. */
	assert_non_null(strstr(summary, "events=5 "));
	assert_non_null(strstr(summary, "encode_errors=1 "));
	unlink(path);
	free(got);
	/* Every event went back to the pool. */
	assert_int_equal(rte_mempool_avail_count(pool), pool_size);
}

static void roundtrip_both(void)
{
	/* raw: the line bytes; a record with no raw line is written as JSON instead. */
	const char *want_raw = "GET / 200\n"
			       "quote \" tab \t bad \xff end\n"
			       "1.2.3.4 GET /x\n"
			       "{\"host\":\"h\\\"2\",\"status\":-1}\n"
			       "\n";
	const char *want_jsonl = "{\"line\":\"GET / 200\"}\n"
				 "{\"line\":\"quote \\\" tab \\t bad \\u00ff end\"}\n"
				 "{\"host\":\"h1\",\"status\":404}\n"
				 "{\"host\":\"h\\\"2\",\"status\":-1}\n"
				 "{\"line\":\"\"}\n";

	sink_roundtrip("raw", want_raw, false);
	sink_roundtrip("jsonl", want_jsonl, true);
}

static void test_roundtrip_uring(void **state)
{
	unsetenv("SLUICE_NO_URING");
	roundtrip_both();
}

static void test_roundtrip_pwrite(void **state)
{
	setenv("SLUICE_NO_URING", "1", 1);
	roundtrip_both();
	unsetenv("SLUICE_NO_URING");
}

/* Enough events to fill every buffer several times over (about 9 MB). */
static void many_events(bool uring)
{
	struct sl_io_env env = test_env();
	struct sink_args ta;
	struct sl_error err = { 0 };
	const uint32_t total = 60000, chunk = 2000;
	static char want[10u << 20];
	struct rte_mbuf *ev[2000];
	size_t want_len = 0, len;
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq";
	char path[256], line[200];
	char *got;
	void *s;

	if (uring)
		unsetenv("SLUICE_NO_URING");
	else
		setenv("SLUICE_NO_URING", "1", 1);
	snprintf(path, sizeof(path), "%s/many.log", tmpdir);
	make_args(&ta, path, "raw", true, false, true);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	for (uint32_t base = 0; base < total; base += chunk) {
		for (uint32_t i = 0; i < chunk; i++) {
			uint32_t k = base + i;
			int n = snprintf(line, sizeof(line), "event %u %.*s", k, (int)(k % 140),
					 letters);

			ev[i] = line_event(line);
			memcpy(want + want_len, line, (size_t)n);
			want_len += (size_t)n;
			want[want_len++] = '\n';
		}
		write_all(s, ev, chunk);
	}
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.destroy(s);
	got = read_all(path, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	unlink(path);
	unsetenv("SLUICE_NO_URING");
	assert_int_equal(rte_mempool_avail_count(pool), pool_size);
}

static void test_many_uring(void **state)
{
	many_events(true);
}

static void test_many_pwrite(void **state)
{
	many_events(false);
}

static void write_one(const char *path, const char *line, bool append)
{
	struct sl_io_env env = test_env();
	struct sink_args ta;
	struct sl_error err = { 0 };
	struct rte_mbuf *ev = line_event(line);
	void *s;

	make_args(&ta, path, "raw", false, append, false);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	assert_int_equal(sl_sink_file.write(s, &ev, 1), 1);
	/* destroy without flush still writes what was taken */
	sl_sink_file.destroy(s);
}

static void test_append_truncate(void **state)
{
	char path[256];
	size_t len;
	char *got;

	snprintf(path, sizeof(path), "%s/app.log", tmpdir);
	write_one(path, "first", false);
	write_one(path, "second", true);
	write_one(path, "third", true);
	got = read_all(path, &len);
	assert_string_equal(got, "first\nsecond\nthird\n");
	free(got);
	write_one(path, "fresh", false);
	got = read_all(path, &len);
	assert_string_equal(got, "fresh\n");
	free(got);
	unlink(path);
}

static void test_dev_null(void **state)
{
	/* Non-regular files take the synchronous in-order path. */
	write_one("/dev/null", "gone", false);
	assert_int_equal(rte_mempool_avail_count(pool), pool_size);
}

static void expect_error(const char *path, const char *format, bool mk, int rc, const char *key,
			 const char *in_msg)
{
	struct sl_io_env env = test_env();
	struct sink_args ta;
	struct sl_error err = { 0 };
	void *s = (void *)1;

	make_args(&ta, path, format, mk, false, false);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), rc);
	assert_null(s);
	assert_non_null(err.key);
	assert_string_equal(err.key, key);
	if (!strstr(err.msg, in_msg))
		fail_msg("message '%s' lacks '%s'", err.msg, in_msg);
}

static void test_create_errors(void **state)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/x/y/z.log", tmpdir);
	expect_error(p, "jsonl", false, -ENOENT, "path", p);
	expect_error(tmpdir, "jsonl", true, -EISDIR, "path", tmpdir);
	expect_error(p, "table", true, -EINVAL, "format", "stdout");
	expect_error(p, "xml", true, -EINVAL, "format", "xml");
	expect_error("", "raw", true, -EINVAL, "path", "required");
}

/*
 * rotate_bytes and fsync modes. Options beyond make_args' five go in a bigger list: the
 * sink reads every key it knows by name.
 */
struct sink_args2 {
	struct sl_arg v[8];
	struct sl_args a;
};

static void make_args2(struct sink_args2 *t, const char *path, const char *fsync_,
		       const char *interval, int64_t rotate)
{
	memset(t, 0, sizeof(*t));
	t->v[0] = (struct sl_arg){ .key = "path", .type = SL_PARAM_STR, .str = path };
	t->v[1] = (struct sl_arg){ .key = "format", .type = SL_PARAM_STR, .str = "raw" };
	t->v[2] = (struct sl_arg){ .key = "fsync", .type = SL_PARAM_STR, .str = fsync_ };
	t->v[3] = (struct sl_arg){ .key = "fsync_interval", .type = SL_PARAM_STR, .str = interval };
	t->v[4] = (struct sl_arg){ .key = "rotate_bytes", .type = SL_PARAM_INT, .i = rotate };
	t->a = (struct sl_args){ .file = "t.yaml", .name = "out", .n = 5, .v = t->v };
}

/* Rotation: PATH.1, PATH.2, ... then PATH hold every line once, in order; each rotated
 * file holds at least rotate_bytes and ends where the line that reached it ends. */
static void check_rotate(bool uring)
{
	struct sl_io_env env = test_env();
	struct sink_args2 ta;
	struct sl_error err = { 0 };
	static char want[200000];
	struct rte_mbuf *ev[1000];
	char path[256], name[300], line[64], summary[256];
	size_t want_len = 0, off = 0, len;
	uint32_t n_files = 0;
	void *s;

	if (uring)
		unsetenv("SLUICE_NO_URING");
	else
		setenv("SLUICE_NO_URING", "1", 1);
	snprintf(path, sizeof(path), "%s/rot.log", tmpdir);
	/* A PATH.2 from before: skipped, not overwritten. */
	snprintf(name, sizeof(name), "%s.2", path);
	write_one(name, "old", false);
	make_args2(&ta, path, "end", NULL, 5000);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		int n = snprintf(line, sizeof(line), "line %u %.*s", i, (int)(i % 30),
				 "abcdefghijklmnopqrstuvwxyzabcd");

		ev[i] = line_event(line);
		memcpy(want + want_len, line, (size_t)n);
		want_len += (size_t)n;
		want[want_len++] = '\n';
	}
	write_all(s, ev, 1000);
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.summary_line(s, summary, sizeof(summary));
	sl_sink_file.destroy(s);
	for (uint32_t k = 1;; k++) {
		char *got;

		snprintf(name, sizeof(name), "%s.%u", path, k);
		if (k == 2) {
			got = read_all(name, &len);
			assert_string_equal(got, "old\n");
			free(got);
			unlink(name);
			continue;
		}
		if (access(name, F_OK) != 0)
			break;
		got = read_all(name, &len);
		assert_true(len >= 5000 && len < 5000 + 64);
		assert_true(off + len <= want_len);
		assert_memory_equal(got, want + off, len);
		assert_int_equal(got[len - 1], '\n');
		off += len;
		n_files++;
		free(got);
		unlink(name);
	}
	{
		char *got = read_all(path, &len);

		assert_int_equal(off + len, want_len);
		assert_memory_equal(got, want + off, len);
		free(got);
		unlink(path);
	}
	assert_true(n_files >= 3);
	snprintf(line, sizeof(line), "rotations=%u", n_files);
	if (!strstr(summary, line))
		fail_msg("summary '%s' lacks '%s'", summary, line);
	unsetenv("SLUICE_NO_URING");
	assert_int_equal(rte_mempool_avail_count(pool), pool_size);
}

static void test_rotate_uring(void **state)
{
	check_rotate(true);
}

static void test_rotate_pwrite(void **state)
{
	check_rotate(false);
}

/* Count the fsyncs a mode makes over three flushed batches; the output is intact. */
static uint64_t fsyncs_for(const char *mode, const char *interval)
{
	struct sl_io_env env = test_env();
	struct sink_args2 ta;
	struct sl_error err = { 0 };
	char path[256], summary[256];
	const char *p;
	size_t len;
	char *got;
	void *s;

	snprintf(path, sizeof(path), "%s/sync.log", tmpdir);
	make_args2(&ta, path, mode, interval, 0);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	for (int b = 0; b < 3; b++) {
		struct rte_mbuf *ev = line_event("batch");

		write_all(s, &ev, 1);
		usleep(3000);
		assert_int_equal(sl_sink_file.flush(s, false), 0);
	}
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.summary_line(s, summary, sizeof(summary));
	sl_sink_file.destroy(s);
	got = read_all(path, &len);
	assert_string_equal(got, "batch\nbatch\nbatch\n");
	free(got);
	unlink(path);
	p = strstr(summary, "fsyncs=");
	assert_non_null(p);
	return strtoull(p + 7, NULL, 10);
}

static void check_fsync_modes(bool uring)
{
	uint64_t n;

	assert_int_equal(fsyncs_for("none", NULL), 0);
	assert_int_equal(fsyncs_for("false", NULL), 0);
	assert_int_equal(fsyncs_for("end", NULL), 1);
	assert_int_equal(fsyncs_for("true", NULL), 1);
	/* Every flushed buffer, then the final one. With io_uring, buffers whose writes
	 * complete together share one sync: at least one of them plus the final one. */
	n = fsyncs_for("every_batch", NULL);
	if (uring)
		assert_true(n >= 2 && n <= 4);
	else
		assert_int_equal(n, 4);
	/* 1 ms interval, 3 ms between flushes: one per flush, then the final one. */
	assert_int_equal(fsyncs_for("interval", "1ms"), 4);
	/* 1 h interval: the first flush syncs (no sync yet), then only the final one. */
	assert_int_equal(fsyncs_for("interval", "1h"), 2);
}

static void test_fsync_uring(void **state)
{
	unsetenv("SLUICE_NO_URING");
	check_fsync_modes(true);
}

static void test_fsync_pwrite(void **state)
{
	setenv("SLUICE_NO_URING", "1", 1);
	check_fsync_modes(false);
	unsetenv("SLUICE_NO_URING");
}

static void test_option_errors(void **state)
{
	static const struct {
		const char *path, *fsync_, *interval;
		int64_t rotate;
		const char *key, *msg;
	} cases[] = {
		{ "x.log", "sometimes", NULL, 0, "fsync", "every_batch" },
		{ "x.log", "interval", "0ms", 0, "fsync_interval", "duration" },
		{ "x.log", "none", NULL, -1, "rotate_bytes", "negative" },
		{ "/dev/null", "none", NULL, 100, "rotate_bytes", "not a regular file" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_io_env env = test_env();
		struct sink_args2 ta;
		struct sl_error err = { 0 };
		void *s = (void *)1;

		make_args2(&ta, cases[i].path, cases[i].fsync_, cases[i].interval, cases[i].rotate);
		assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), -EINVAL);
		assert_null(s);
		assert_string_equal(err.key, cases[i].key);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("message '%s' lacks '%s'", err.msg, cases[i].msg);
	}
}

static void test_tables(void **state)
{
	assert_ptr_equal(sl_sink_find("file"), &sl_sink_file);
	assert_ptr_equal(sl_sink_find("stdout"), &sl_sink_stdout);
	assert_ptr_equal(sl_sink_find("null"), &sl_sink_null);
	assert_null(sl_sink_find("kafka"));
	assert_ptr_equal(sl_sink_at(0), &sl_sink_file);
	/* Any kinds after those: each found by its own name, and the table ends. */
	for (uint32_t i = 1; sl_sink_at(i) && i < 64; i++)
		assert_ptr_equal(sl_sink_find(sl_sink_at(i)->type), sl_sink_at(i));
	assert_null(sl_sink_at(64));
	assert_int_equal(sl_sink_format_parse("raw"), SL_FORMAT_RAW);
	assert_int_equal(sl_sink_format_parse("jsonl"), SL_FORMAT_JSONL);
	assert_int_equal(sl_sink_format_parse("table"), SL_FORMAT_TABLE);
	assert_int_equal(sl_sink_format_parse("json"), -1);
	assert_int_equal(sl_sink_format_parse(""), -1);
}

static void test_null_sink(void **state)
{
	struct sl_io_env env = test_env();
	struct sl_args a = { .file = "t.yaml", .name = "n", .n = 0, .v = NULL };
	struct sl_error err = { 0 };
	struct rte_mbuf *ev[3] = { line_event("abc"), line_event("de"), line_event("") };
	char summary[128];
	void *s;

	assert_int_equal(sl_sink_null.create(&a, &env, &s, &err), 0);
	assert_int_equal(sl_sink_null.write(s, ev, 3), 3);
	assert_int_equal(sl_sink_null.flush(s, true), 0);
	sl_sink_null.summary_line(s, summary, sizeof(summary));
	assert_string_equal(summary, "events=3 bytes=5");
	sl_sink_null.destroy(s);
	assert_int_equal(rte_mempool_avail_count(pool), pool_size);
}

static void test_format_event_capacity(void **state)
{
	struct rte_mbuf *m = record_event("", "h", 5);
	char out[64];

	/* {"host":"h","status":5} is 23 bytes, plus the newline. */
	assert_int_equal(sl_sink_format_event(SL_FORMAT_JSONL, meta_off, m, out, 24), 24);
	assert_memory_equal(out, "{\"host\":\"h\",\"status\":5}\n", 24);
	assert_int_equal(sl_sink_format_event(SL_FORMAT_JSONL, meta_off, m, out, 23), -2);
	assert_int_equal(sl_sink_format_event(SL_FORMAT_RAW, meta_off, m, out, 24), 24);
	rte_pktmbuf_free(m);
	m = line_event("abc");
	assert_int_equal(sl_sink_format_event(SL_FORMAT_RAW, meta_off, m, out, 4), 4);
	assert_memory_equal(out, "abc\n", 4);
	assert_int_equal(sl_sink_format_event(SL_FORMAT_RAW, meta_off, m, out, 3), -2);
	rte_pktmbuf_free(m);
}

static void remove_tree(void)
{
	static const char *const parts[] = { "a/b", "a", "" };
	char p[256];

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, parts[i]);
		rmdir(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_format_event_capacity),
		cmocka_unit_test(test_roundtrip_uring),
		cmocka_unit_test(test_roundtrip_pwrite),
		cmocka_unit_test(test_many_uring),
		cmocka_unit_test(test_many_pwrite),
		cmocka_unit_test(test_append_truncate),
		cmocka_unit_test(test_dev_null),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_null_sink),
		cmocka_unit_test(test_rotate_uring),
		cmocka_unit_test(test_rotate_pwrite),
		cmocka_unit_test(test_fsync_uring),
		cmocka_unit_test(test_fsync_pwrite),
		cmocka_unit_test(test_option_errors),
	};
	int rc;

	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* rte_mempool_avail_count counts per-lcore caches too, so it shows leaks exactly. */
	pool = sl_test_pool(pool_size, 2048, &meta_off);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	remove_tree();
	return rc;
}
