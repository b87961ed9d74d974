/*
 * Unit tests for checkpoint files: format/parse round trip (empty, one, many, extreme
 * values), the atomic store (a stale PATH.tmp from a killed run is replaced, the old
 * checkpoint stays whole until the rename, parent directories are created), and damaged
 * input: every strict prefix of a valid file is refused, every single-byte change is
 * refused (the checksum or the grammar catches it), and the errors name the byte offset.
 */
#include <errno.h>
#include <inttypes.h>
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

#include "checkpoint/checkpoint.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static char tmpdir[] = "/tmp/sl_ckpt_test_XXXXXX";

static const struct sl_ckpt_file sample[] = {
	{ .dev = 2049,
	  .ino = 1234567,
	  .fp = 0x0123456789abcdefull,
	  .off = 4096,
	  .fp_len = 1024,
	  .slot = 17,
	  .flags = 0,
	  .birth = 1795966162099585781ull },
	{ .dev = UINT64_MAX,
	  .ino = UINT64_MAX,
	  .fp = UINT64_MAX,
	  .off = (1ull << 48) - 1,
	  .fp_len = 0,
	  .slot = UINT16_MAX,
	  .flags = SL_CKPT_F_SKIP,
	  .birth = UINT64_MAX },
	{ .dev = 0, .ino = 0, .fp = 0, .off = 0, .fp_len = 1, .slot = 0, .flags = 0 },
};

static void assert_file_equal(const struct sl_ckpt_file *a, const struct sl_ckpt_file *b)
{
	assert_int_equal(a->dev, b->dev);
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->fp, b->fp);
	assert_int_equal(a->off, b->off);
	assert_int_equal(a->fp_len, b->fp_len);
	assert_int_equal(a->slot, b->slot);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->birth, b->birth);
}

static void round_trip(const struct sl_ckpt_file *in, uint32_t n)
{
	struct sl_ckpt_error err = { 0 };
	struct sl_ckpt_file *out;
	uint32_t got;
	size_t len;
	char *buf;

	assert_int_equal(sl_ckpt_format(in, n, &buf, &len), 0);
	assert_int_equal(sl_ckpt_parse(buf, len, &out, &got, &err), 0);
	assert_int_equal(got, n);
	for (uint32_t i = 0; i < n; i++)
		assert_file_equal(&out[i], &in[i]);
	free(out);
	free(buf);
}

static void test_round_trip(void **state)
{
	struct sl_ckpt_file *many = calloc(5000, sizeof(*many));

	(void)state;
	round_trip(NULL, 0);
	round_trip(sample, 1);
	round_trip(sample, (uint32_t)(sizeof(sample) / sizeof(sample[0])));
	assert_non_null(many);
	for (uint32_t i = 0; i < 5000; i++)
		many[i] = (struct sl_ckpt_file){ .dev = i,
						 .ino = i * 7919ull,
						 .fp = i * 0x9e37ull,
						 .off = i * 100ull,
						 .fp_len = i % 1025,
						 .slot = (uint16_t)i };
	round_trip(many, 5000);
	free(many);
}

static void test_text(void **state)
{
	static const char want[] = "sluice-checkpoint 2\n"
				   "file 2049 1234567 1024 0123456789abcdef 17 4096 0 "
				   "1795966162099585781\n";
	size_t len;
	char *buf;

	(void)state;
	assert_int_equal(sl_ckpt_format(sample, 1, &buf, &len), 0);
	assert_true(len > sizeof(want));
	assert_memory_equal(buf, want, sizeof(want) - 1);
	assert_memory_equal(buf + sizeof(want) - 1, "end 1 ", 6);
	assert_int_equal(buf[len - 1], '\n');
	free(buf);
}

static int parse_err(const char *s, size_t len, struct sl_ckpt_error *err)
{
	struct sl_ckpt_file *out = NULL;
	uint32_t n = 99;
	int rc;

	memset(err, 0, sizeof(*err));
	rc = sl_ckpt_parse(s, len, &out, &n, err);
	if (rc == 0)
		free(out);
	else {
		assert_null(out);
		assert_int_equal(n, 0);
	}
	return rc;
}

/* Every strict prefix and every one-byte change of a valid checkpoint is refused. */
static void test_damage(void **state)
{
	struct sl_ckpt_error err;
	size_t len;
	char *buf;

	(void)state;
	assert_int_equal(sl_ckpt_format(sample, 3, &buf, &len), 0);
	for (size_t l = 0; l < len; l++) {
		assert_int_equal(parse_err(buf, l, &err), -EINVAL);
		assert_true(err.off <= l);
		assert_true(err.msg[0] != '\0');
	}
	for (size_t i = 0; i < len; i++) {
		char keep = buf[i];

		for (int d = 1; d < 256; d += 37) {
			buf[i] = (char)(keep + d);
			assert_int_equal(parse_err(buf, len, &err), -EINVAL);
		}
		buf[i] = keep;
	}
	assert_int_equal(parse_err(buf, len, &err), 0);
	free(buf);
}

static void expect_err(const char *s, size_t off, const char *msg_part)
{
	struct sl_ckpt_error err;

	assert_int_equal(parse_err(s, strlen(s), &err), -EINVAL);
	if (err.off != off || !strstr(err.msg, msg_part))
		fail_msg("%s: got byte %zu '%s', want byte %zu '%s'", s, err.off, err.msg, off,
			 msg_part);
}

static void test_errors(void **state)
{
	(void)state;
	expect_err("", 0, "not a sluice checkpoint");
	expect_err("sluice-checkpoint 3\n", 0, "not a sluice checkpoint");
	expect_err("sluice-checkpoint 2\nfile 1 2 3 00000000000000ff 4 5 0\n", 53, "a space");
	expect_err("sluice-checkpoint 2\nfile 1 2 3 00000000000000ff 4 5 0 01\n", 54,
		   "birth time: leading zero");
	expect_err("sluice-checkpoint 2\nfile 1 2 3 00000000000000ff 4 5 0 18446744073709551616\n",
		   54, "larger than");
	expect_err("sluice-checkpoint 1\nfile 1 2 3 00000000000000ff 4 5 0 7\n", 53,
		   "end of the line");
	expect_err("sluice-checkpoint 1\n", 20, "truncated");
	expect_err("sluice-checkpoint 1\nfile 1 2 3 00000000000000ff 4 5 0", 53, "end of the line");
	expect_err("sluice-checkpoint 1\nfile 01 2 3 00000000000000ff 4 5 0\n", 25, "leading zero");
	expect_err("sluice-checkpoint 1\nfile 1 2 3 00000000000000FF 4 5 0\n", 45, "hex");
	expect_err("sluice-checkpoint 1\nfile 1 2 3 00000000000000ff 65536 5 0\n", 48, "slot");
	expect_err("sluice-checkpoint 1\nfile 1 2 3 00000000000000ff 1 5 2\n", 52, "flags");
	expect_err("sluice-checkpoint 1\nfile 1  2 3 00000000000000ff 1 5 0\n", 27, "inode");
	expect_err("sluice-checkpoint 1\nfile 18446744073709551616 2 3 0000000000000000 1 5 0\n",
		   25, "larger than");
	expect_err("sluice-checkpoint 1\nfiles\n", 20, "\"file\" or \"end\"");
	expect_err("sluice-checkpoint 1\nend 1 0000000000000000\n", 24, "counts 1 files");
	expect_err("sluice-checkpoint 1\nend 0 0000000000000000\n", 26, "checksum mismatch");
}

/* Version 1 (no birth field) still loads, each file with birth time 0; stored again, it
 * becomes version 2. */
static void test_version_1(void **state)
{
	const char *body = "sluice-checkpoint 1\n"
			   "file 2049 1234567 1024 0123456789abcdef 17 4096 0\n"
			   "file 1 2 3 00000000000000ff 4 5 1\n";
	struct sl_ckpt_error err = { 0 };
	struct sl_ckpt_file *out, want[2] = { sample[0],
					      { .dev = 1,
						.ino = 2,
						.fp_len = 3,
						.fp = 0xff,
						.slot = 4,
						.off = 5,
						.flags = SL_CKPT_F_SKIP } };
	char text[512], *buf;
	uint32_t n;
	size_t len;

	(void)state;
	want[0].birth = 0;
	snprintf(text, sizeof(text), "%send 2 %016" PRIx64 "\n", body,
		 (uint64_t)XXH64(body, strlen(body), 0));
	assert_int_equal(sl_ckpt_parse(text, strlen(text), &out, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_file_equal(&out[0], &want[0]);
	assert_file_equal(&out[1], &want[1]);
	assert_int_equal(sl_ckpt_format(out, n, &buf, &len), 0);
	assert_memory_equal(buf, "sluice-checkpoint 2\n", 20);
	free(buf);
	free(out);
}

static void test_bytes_after_end(void **state)
{
	struct sl_ckpt_error err;
	size_t len;
	char *buf;

	(void)state;
	assert_int_equal(sl_ckpt_format(sample, 2, &buf, &len), 0);
	buf = realloc(buf, len + 1);
	buf[len] = '\n';
	assert_int_equal(parse_err(buf, len + 1, &err), -EINVAL);
	assert_int_equal(err.off, len);
	assert_non_null(strstr(err.msg, "after the end"));
	free(buf);
}

static void test_store_load(void **state)
{
	char path[256], tmp[300], msg[512];
	struct sl_ckpt_file *out;
	struct stat st;
	uint32_t n;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/a/b/state.ckpt", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(sl_ckpt_load(path, &out, &n, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(sl_ckpt_prepare(path, msg, sizeof(msg)), 0);
	assert_int_equal(stat(tmp, &st), -1);
	/* A run killed while writing leaves a torn PATH.tmp: the next store replaces it. */
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs("sluice-checkpoint 1\nfile 1 2", f);
	fclose(f);
	assert_int_equal(sl_ckpt_store(path, sample, 2, msg, sizeof(msg)), 0);
	assert_int_equal(stat(tmp, &st), -1);
	assert_int_equal(sl_ckpt_load(path, &out, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 2);
	assert_file_equal(&out[0], &sample[0]);
	assert_file_equal(&out[1], &sample[1]);
	free(out);
	assert_int_equal(sl_ckpt_store(path, sample + 2, 1, msg, sizeof(msg)), 0);
	assert_int_equal(sl_ckpt_load(path, &out, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_file_equal(&out[0], &sample[2]);
	free(out);
	/* A damaged checkpoint is reported with its path and the byte offset. */
	assert_int_equal(truncate(path, 30), 0);
	assert_int_equal(sl_ckpt_load(path, &out, &n, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "byte 30: expected a space"));
	assert_null(out);
	unlink(path);
}

static void test_store_errors(void **state)
{
	char path[256], msg[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	assert_int_equal(sl_ckpt_store(path, sample, 1, msg, sizeof(msg)), 0);
	/* A regular file where a directory should be. */
	snprintf(path, sizeof(path), "%s/file/x.ckpt", tmpdir);
	assert_true(sl_ckpt_prepare(path, msg, sizeof(msg)) < 0);
	assert_non_null(strstr(msg, "cannot create"));
	assert_true(sl_ckpt_store(path, sample, 1, msg, sizeof(msg)) < 0);
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	unlink(path);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_text),
		cmocka_unit_test(test_damage),	   cmocka_unit_test(test_errors),
		cmocka_unit_test(test_version_1),  cmocka_unit_test(test_bytes_after_end),
		cmocka_unit_test(test_store_load), cmocka_unit_test(test_store_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
