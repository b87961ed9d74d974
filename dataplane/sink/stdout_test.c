/*
 * Unit tests for the `stdout` sink: standard output is pointed at a temporary file while
 * the sink writes, then the file is compared with text written out here by hand: raw and
 * JSON lines, and the aligned table (columns in first-seen key order, numbers
 * right-aligned, escapes shown, the row cap counted in the summary).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "eal.h"
#include "sink/sink.h"

static struct rte_mempool *pool;
static int meta_off;
static char out_path[] = "/tmp/sl_stdout_test_XXXXXX";
static int saved_stdout = -1;

static struct rte_mbuf *line_event(const char *s)
{
	struct rte_mbuf *m = sl_test_line_event(pool, meta_off, s);

	assert_non_null(m);
	return m;
}

/* A record event with no raw line; build it with the sl_rec_put_* calls in fill. */
static struct rte_mbuf *record_begin(struct sl_rec_writer *w)
{
	struct rte_mbuf *m = line_event("");

	sl_rec_begin(w, rte_pktmbuf_mtod(m, char *), rte_pktmbuf_tailroom(m));
	return m;
}

static struct rte_mbuf *record_end(struct rte_mbuf *m, struct sl_rec_writer *w)
{
	struct sl_meta *meta = sl_event_meta(meta_off, m);
	uint32_t n = sl_rec_end(w);

	assert_true(n > 0);
	rte_pktmbuf_append(m, (uint16_t)n);
	meta->kind = SL_EVENT_RECORD;
	meta->rec_off = 0;
	return m;
}

static void capture_begin(void)
{
	int fd = open(out_path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	fflush(stdout);
	saved_stdout = dup(STDOUT_FILENO);
	assert_true(saved_stdout >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
}

static char *capture_end(void)
{
	static char buf[1 << 20];
	FILE *f;
	size_t n;

	assert_int_equal(dup2(saved_stdout, STDOUT_FILENO), STDOUT_FILENO);
	close(saved_stdout);
	f = fopen(out_path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void *make_sink(const char *format)
{
	struct sl_io_env env = {
		.pool = pool, .meta_offset = meta_off, .name = "so", .file = "t.yaml"
	};
	struct sl_arg v = { .key = "format", .type = SL_PARAM_STR, .str = format };
	struct sl_args a = { .file = "t.yaml", .name = "so", .n = 1, .v = &v };
	struct sl_error err = { 0 };
	void *s = NULL;

	assert_int_equal(sl_sink_stdout.create(&a, &env, &s, &err), 0);
	return s;
}

static void test_raw_and_jsonl(void **state)
{
	struct rte_mbuf *ev[2];
	struct sl_rec_writer w;
	void *raw = make_sink("raw"), *jsonl = make_sink("jsonl");
	char *got;

	capture_begin();
	ev[0] = line_event("hello world");
	ev[1] = record_begin(&w);
	sl_rec_put_str(&w, "k", "v\n", 2);
	ev[1] = record_end(ev[1], &w);
	assert_int_equal(sl_sink_stdout.write(raw, ev, 2), 2);
	assert_int_equal(sl_sink_stdout.flush(raw, true), 0);
	ev[0] = line_event("a\"b");
	ev[1] = record_begin(&w);
	sl_rec_put_int(&w, "n", 7);
	ev[1] = record_end(ev[1], &w);
	assert_int_equal(sl_sink_stdout.write(jsonl, ev, 2), 2);
	assert_int_equal(sl_sink_stdout.flush(jsonl, true), 0);
	got = capture_end();
	assert_string_equal(got, "hello world\n"
				 "{\"k\":\"v\\n\"}\n"
				 "{\"line\":\"a\\\"b\"}\n"
				 "{\"n\":7}\n");
	sl_sink_stdout.destroy(raw);
	sl_sink_stdout.destroy(jsonl);
}

static void test_table(void **state)
{
	struct rte_mbuf *ev[4];
	struct sl_rec_writer w;
	void *s = make_sink("table");
	char summary[200];
	char *got;

	ev[0] = record_begin(&w);
	sl_rec_put_str(&w, "host", "a", 1);
	sl_rec_put_int(&w, "status", 200);
	sl_rec_put_float(&w, "t", 1.5);
	ev[0] = record_end(ev[0], &w);
	ev[1] = record_begin(&w);
	sl_rec_put_int(&w, "status", 404);
	sl_rec_put_str(&w, "host", "bbbbbb", 6);
	sl_rec_put_str(&w, "extra", "x", 1);
	ev[1] = record_end(ev[1], &w);
	ev[2] = line_event("raw line");
	ev[3] = record_begin(&w);
	sl_rec_put_str(&w, "host", "t\tab", 4);
	ev[3] = record_end(ev[3], &w);
	capture_begin();
	assert_int_equal(sl_sink_stdout.write(s, ev, 4), 4);
	/* Nothing is printed before the final flush. */
	assert_int_equal(sl_sink_stdout.flush(s, false), 0);
	assert_int_equal(sl_sink_stdout.flush(s, true), 0);
	got = capture_end();
	/*
	 * Columns host(6) status(6, numbers) t(3, numbers) extra(5) line(8), two spaces
	 * between columns, no trailing blanks; "t\tab" is shown escaped (5 columns).
	 */
	assert_string_equal(got, "host    status    t  extra  line\n"
				 "a          200  1.5\n"
				 "bbbbbb     404       x\n"
				 "                            raw line\n"
				 "t\\tab\n");
	sl_sink_stdout.summary_line(s, summary, sizeof(summary));
	assert_non_null(strstr(summary, "events=4 "));
	assert_non_null(strstr(summary, "not_shown=0"));
	sl_sink_stdout.destroy(s);
}

static void test_table_cap(void **state)
{
	void *s = make_sink("table");
	char summary[200];
	char *got, *p;
	uint32_t lines = 0;

	capture_begin();
	for (int i = 0; i < 10002; i++) {
		struct sl_rec_writer w;
		struct rte_mbuf *m = record_begin(&w);

		sl_rec_put_int(&w, "n", i);
		m = record_end(m, &w);
		assert_int_equal(sl_sink_stdout.write(s, &m, 1), 1);
	}
	assert_int_equal(sl_sink_stdout.flush(s, true), 0);
	got = capture_end();
	for (p = got; (p = strchr(p, '\n')); p++)
		lines++;
	/* Header plus the first 10000 records, right-aligned to the widest, "9999". */
	assert_int_equal(lines, 10001);
	assert_memory_equal(got, "   n\n   0\n   1\n", 15);
	assert_non_null(strstr(got, "\n9999\n"));
	assert_null(strstr(got, "10000"));
	sl_sink_stdout.summary_line(s, summary, sizeof(summary));
	assert_non_null(strstr(summary, "not_shown=2"));
	sl_sink_stdout.destroy(s);
}

static void test_bad_format(void **state)
{
	struct sl_io_env env = { .pool = pool, .meta_offset = meta_off };
	struct sl_arg v = { .key = "format", .type = SL_PARAM_STR, .str = "csv" };
	struct sl_args a = { .file = "t.yaml", .name = "so", .n = 1, .v = &v };
	struct sl_error err = { 0 };
	void *s = (void *)1;

	assert_int_equal(sl_sink_stdout.create(&a, &env, &s, &err), -EINVAL);
	assert_null(s);
	assert_string_equal(err.key, "format");
	assert_non_null(strstr(err.msg, "csv"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_and_jsonl),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_bad_format),
	};
	int fd, rc;

	fd = mkstemp(out_path);
	if (fd < 0) {
		printf("Bail out! mkstemp: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	pool = sl_test_pool(1024, 2048, &meta_off);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(out_path);
	return rc;
}
