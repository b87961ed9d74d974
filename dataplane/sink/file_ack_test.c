/*
 * Unit tests for the `file` sink's side of end-to-end delivery (sink.h, durable) and its
 * event ids: the durable count never runs ahead of what is written (fsync none: written;
 * interval and every_batch: written and synced), reaches every event taken at the final
 * flush, and stops at a write error; event_id: true prefixes raw lines with "ID " and puts
 * "event_id" first in JSON objects. Through io_uring and the pwrite fallback.
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
static char tmpdir[] = "/tmp/sl_sink_ack_test_XXXXXX";

struct ack_args {
	struct sl_arg v[5];
	struct sl_args a;
};

static void make_args(struct ack_args *t, const char *path, const char *format, const char *fsync_,
		      bool event_id)
{
	memset(t, 0, sizeof(*t));
	t->v[0] = (struct sl_arg){ .key = "path", .type = SL_PARAM_STR, .str = path };
	t->v[1] = (struct sl_arg){ .key = "format", .type = SL_PARAM_STR, .str = format };
	t->v[2] = (struct sl_arg){ .key = "fsync", .type = SL_PARAM_STR, .str = fsync_ };
	t->v[3] = (struct sl_arg){ .key = "fsync_interval", .type = SL_PARAM_STR, .str = "1ms" };
	t->v[4] = (struct sl_arg){ .key = "event_id", .type = SL_PARAM_BOOL, .b = event_id };
	t->a = (struct sl_args){ .file = "t.yaml", .name = "out", .n = 5, .v = t->v };
}

static void *open_sink(const char *name, const char *format, const char *fsync_, bool event_id,
		       char *path, size_t len)
{
	struct sl_io_env env = { .pool = pool, .meta_offset = meta_off, .name = "out" };
	struct sl_error err = { 0 };
	struct ack_args ta;
	void *s = NULL;

	snprintf(path, len, "%s/%s", tmpdir, name);
	make_args(&ta, path, format, fsync_, event_id);
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	return s;
}

static struct rte_mbuf *line(const char *s, uint64_t id)
{
	struct rte_mbuf *m = sl_test_line_event(pool, meta_off, s);

	assert_non_null(m);
	sl_event_meta(meta_off, m)->event_id = id;
	return m;
}

/* Durable never passes taken, grows to all of it with periodic flushes, and is all of it
 * after the final flush. */
static void durable_mode(const char *fsync_)
{
	char path[256];
	void *s = open_sink(fsync_, "raw", fsync_, false, path, sizeof(path));
	struct rte_mbuf *ev[SL_BURST_MAX];
	uint64_t taken = 0, d = 0;
	int spins = 0;

	/* Full bursts: a shorter one means the input ran dry and is submitted at once. */
	for (int round = 0; round < 25; round++) {
		uint16_t k;

		for (int i = 0; i < SL_BURST_MAX; i++)
			ev[i] = line("0123456789abcdef0123456789abcdef",
				     (uint64_t)(round * SL_BURST_MAX + i));
		k = sl_sink_file.write(s, ev, SL_BURST_MAX);
		assert_int_equal(k, SL_BURST_MAX);
		taken += k;
		d = sl_sink_file.durable(s);
		assert_true(d <= taken);
	}
	/* Full bursts fill one buffer, submitted only once it has been filling for 1 ms
	 * (FILE_SINK_MAX_AGE_US): a preempted test may see some of it durable already, never
	 * more than was taken (checked above). */
	while (d < taken) {
		assert_int_equal(sl_sink_file.flush(s, false), 0);
		d = sl_sink_file.durable(s);
		assert_true(d <= taken);
		assert_true(++spins < 1000000);
		if (d < taken)
			usleep(100);
	}
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	assert_int_equal(sl_sink_file.durable(s), taken);
	sl_sink_file.destroy(s);
}

/* Wait (without flush) until durable reaches want; false after 2 s. */
static bool wait_durable(void *s, uint64_t want)
{
	for (int i = 0; i < 20000; i++) {
		if (sl_sink_file.durable(s) >= want)
			return true;
		usleep(100);
	}
	return false;
}

/* Regression (tail latency, perf/bench-file-latency.sh): events waited in a half-filled
 * buffer for the runtime's periodic flush, 100 ms. A short burst (the input ran dry) is
 * written at once; full bursts from a sink that lags behind are written once their buffer
 * has been filling for 1 ms. Neither needs a flush call. */
static void test_written_without_flush(void **state)
{
	char path[256];
	struct rte_mbuf *ev[64];
	struct stat st;
	void *s;

	(void)state;
	unsetenv("SLUICE_NO_URING");
	s = open_sink("noflush", "raw", "none", false, path, sizeof(path));
	for (int i = 0; i < 10; i++)
		ev[i] = line("short burst", (uint64_t)i);
	assert_int_equal(sl_sink_file.write(s, ev, 10), 10);
	assert_true(wait_durable(s, 10));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 10 * 12);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 64; i++)
			ev[i] = line("full burst", (uint64_t)i);
		assert_int_equal(sl_sink_file.write(s, ev, 64), 64);
		usleep(2000); /* past FILE_SINK_MAX_AGE_US: the next call writes the buffer */
	}
	assert_true(wait_durable(s, 10 + 64 * 2));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 10 * 12 + 128 * 11);
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.destroy(s);
}

static void test_durable_uring(void **state)
{
	(void)state;
	unsetenv("SLUICE_NO_URING");
	durable_mode("none");
	durable_mode("interval");
	durable_mode("every_batch");
}

static void test_durable_pwrite(void **state)
{
	(void)state;
	setenv("SLUICE_NO_URING", "1", 1);
	durable_mode("none");
	durable_mode("interval");
	durable_mode("every_batch");
	unsetenv("SLUICE_NO_URING");
}

/* A sink that cannot write acknowledges nothing more. */
static void test_durable_error(void **state)
{
	struct sl_io_env env = { .pool = pool, .meta_offset = meta_off, .name = "out" };
	struct sl_error err = { 0 };
	struct ack_args ta;
	struct rte_mbuf *ev[4];
	void *s = NULL;

	(void)state;
	if (access("/dev/full", W_OK) != 0) {
		skip();
		return;
	}
	make_args(&ta, "/dev/full", "raw", "none", false);
	ta.v[2].str = "none";
	assert_int_equal(sl_sink_file.create(&ta.a, &env, &s, &err), 0);
	for (int i = 0; i < 4; i++)
		ev[i] = line("x", (uint64_t)i);
	assert_int_equal(sl_sink_file.write(s, ev, 4), 4);
	sl_sink_file.flush(s, true);
	assert_int_equal(sl_sink_file.durable(s), 0);
	sl_sink_file.destroy(s);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char buf[4096];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_event_id(void **state)
{
	char path[256];
	struct rte_mbuf *ev[2];
	void *s;

	(void)state;
	s = open_sink("ids.log", "raw", "none", true, path, sizeof(path));
	ev[0] = line("first line", 7);
	ev[1] = line("second", UINT64_MAX);
	assert_int_equal(sl_sink_file.write(s, ev, 2), 2);
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.destroy(s);
	assert_string_equal(read_all(path), "7 first line\n18446744073709551615 second\n");

	s = open_sink("ids.jsonl", "jsonl", "none", true, path, sizeof(path));
	ev[0] = line("a \"quoted\" line", 1ull << 48 | 5);
	assert_int_equal(sl_sink_file.write(s, ev, 1), 1);
	assert_int_equal(sl_sink_file.flush(s, true), 0);
	sl_sink_file.destroy(s);
	assert_string_equal(read_all(path),
			    "{\"event_id\":281474976710661,\"line\":\"a \\\"quoted\\\" line\"}\n");
	assert_int_equal(rte_mempool_avail_count(pool), 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durable_uring),	      cmocka_unit_test(test_durable_pwrite),
		cmocka_unit_test(test_durable_error),	      cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_written_without_flush),
	};
	int rc;
	char cmd[128];

	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	pool = sl_test_pool(4096, 2048, &meta_off);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
