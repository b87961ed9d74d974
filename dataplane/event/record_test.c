/*
 * Record view and writer tests (SDK record.h): every msgpack type found and decoded, keys
 * after containers found (general skip path), missing keys, appends through the map16
 * header, writer overflow, and hostile bytes: every truncation of a valid record and
 * counts that lie never read out of bounds (run under ASan in scripts/test).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include <sluice/record.h>

/* A record in msgpack-c's own (smallest) encodings, as another producer would write it. */
static size_t make_foreign(msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9);
	msgpack_pack_str_with_body(&pk, "nested", 6);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "a", 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_str_with_body(&pk, "neg", 3);
	msgpack_pack_int64(&pk, -70000);
	msgpack_pack_str_with_body(&pk, "big", 3);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_str_with_body(&pk, "pi", 2);
	msgpack_pack_double(&pk, 3.25);
	msgpack_pack_str_with_body(&pk, "f32", 3);
	msgpack_pack_float(&pk, 0.5f);
	msgpack_pack_str_with_body(&pk, "yes", 3);
	msgpack_pack_true(&pk);
	msgpack_pack_str_with_body(&pk, "none", 4);
	msgpack_pack_nil(&pk);
	msgpack_pack_str_with_body(&pk, "bin", 3);
	msgpack_pack_bin_with_body(&pk, "\x01\x02", 2);
	msgpack_pack_str_with_body(&pk, "status", 6);
	msgpack_pack_int(&pk, 503);
	return sb->size;
}

static void test_find_every_type(void **st)
{
	msgpack_sbuffer sb;
	struct sl_rec r;
	struct sl_val v;

	(void)st;
	r.len = (uint32_t)make_foreign(&sb);
	r.p = (const uint8_t *)sb.data;
	assert_true(sl_rec_find(r, "status", 6, &v));
	assert_int_equal(v.type, SL_VAL_INT);
	assert_int_equal(v.i, 503);
	assert_true(sl_rec_find(r, "neg", 3, &v));
	assert_int_equal(v.i, -70000);
	assert_true(sl_rec_find(r, "big", 3, &v));
	assert_int_equal(v.type, SL_VAL_UINT);
	assert_true(v.u == UINT64_MAX);
	assert_true(sl_rec_find(r, "pi", 2, &v));
	assert_int_equal(v.type, SL_VAL_FLOAT);
	assert_true(v.f == 3.25);
	assert_true(sl_rec_find(r, "f32", 3, &v));
	assert_true(v.f == 0.5);
	assert_true(sl_rec_find(r, "yes", 3, &v));
	assert_int_equal(v.type, SL_VAL_BOOL);
	assert_true(v.b);
	assert_true(sl_rec_find(r, "none", 4, &v));
	assert_int_equal(v.type, SL_VAL_NIL);
	assert_true(sl_rec_find(r, "bin", 3, &v));
	assert_int_equal(v.type, SL_VAL_BIN);
	assert_int_equal(v.s.len, 2);
	assert_memory_equal(v.s.p, "\x01\x02", 2);
	/* The nested map spans 1 (fixmap) + 2 ("a") + 1 (fixarray) + 1 (1) + 2 ("x") bytes. */
	assert_true(sl_rec_find(r, "nested", 6, &v));
	assert_int_equal(v.type, SL_VAL_MAP);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.raw_len, 7);
	assert_false(sl_rec_find(r, "stat", 4, &v));
	assert_int_equal(v.type, SL_VAL_NONE);
	assert_false(sl_rec_find(r, "statuses", 8, &v));
	msgpack_sbuffer_destroy(&sb);
}

static void test_every_truncation_is_safe(void **st)
{
	msgpack_sbuffer sb;
	size_t len = make_foreign(&sb);
	struct sl_val v;

	(void)st;
	for (size_t cut = 0; cut < len; cut++) {
		/* A private copy of exactly cut bytes, so ASan sees any overread. */
		uint8_t *b = malloc(cut ? cut : 1);
		struct sl_rec r = { b, (uint32_t)cut };
		uint32_t pos = 0;
		struct sl_val k;

		memcpy(b, sb.data, cut);
		/* "status" is the last pair: never complete in a truncated record. */
		assert_false(sl_rec_find(r, "status", 6, &v));
		while (sl_rec_next(r, &pos, &k, &v))
			assert_true(pos <= cut);
		free(b);
	}
	msgpack_sbuffer_destroy(&sb);
}

static void test_lying_counts(void **st)
{
	/* map32 claiming 4 billion pairs, then one pair; an array32 value claiming the same. */
	static const uint8_t liar[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'k', 0x01 };
	static const uint8_t arr[] = { 0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t str[] = { 0x81, 0xa1, 'a', 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x' };
	struct sl_rec r;
	struct sl_val v;

	(void)st;
	r = (struct sl_rec){ liar, sizeof(liar) };
	assert_true(sl_rec_find(r, "k", 1, &v));
	assert_int_equal(v.i, 1);
	assert_false(sl_rec_find(r, "z", 1, &v));
	r = (struct sl_rec){ arr, sizeof(arr) };
	assert_false(sl_rec_find(r, "a", 1, &v));
	assert_false(sl_rec_find(r, "b", 1, &v));
	r = (struct sl_rec){ str, sizeof(str) };
	assert_false(sl_rec_find(r, "a", 1, &v));
}

/* An event without a record has the view { NULL, 0 }: lookups and iteration say "absent"
 * (UBSan checks that no pointer arithmetic is done on the NULL). */
static void test_no_record(void **st)
{
	struct sl_rec none = { NULL, 0 };
	struct sl_rec_key key;
	struct sl_val k, v;
	uint32_t pos = 0;

	sl_rec_key_init(&key, "status", 6);
	assert_false(sl_rec_find(none, "status", 6, &v));
	assert_int_equal(v.type, SL_VAL_NONE);
	assert_false(sl_rec_get(none, &key, &v));
	assert_false(sl_rec_next(none, &pos, &k, &v));
}

static void test_writer_and_append(void **st)
{
	uint8_t buf[256];
	struct sl_rec_writer w;
	struct sl_val v;
	uint32_t len;

	(void)st;
	sl_rec_begin(&w, buf, sizeof(buf));
	sl_rec_put_str(&w, "path", "/index.html", 11);
	sl_rec_put_int(&w, "status", 200);
	len = sl_rec_end(&w);
	/* map16 header (3) + "path" (5) + 11-byte fixstr (12) + "status" (7) + uint8 200 (2). */
	assert_int_equal(len, 3 + 5 + 12 + 7 + 2);
	assert_int_equal(buf[0], 0xde);
	assert_int_equal(buf[2], 2);
	assert_true(sl_rec_append_begin(&w, buf, len, sizeof(buf)));
	sl_rec_put_bool(&w, "slow", true);
	len = sl_rec_end(&w);
	assert_int_equal(buf[2], 3);
	assert_true(sl_rec_find((struct sl_rec){ buf, len }, "slow", 4, &v));
	assert_true(v.b);
	assert_true(sl_rec_find((struct sl_rec){ buf, len }, "path", 4, &v));
	assert_int_equal(v.s.len, 11);
	assert_memory_equal(v.s.p, "/index.html", 11);
	/* A record not written by sl_rec_begin (fixmap) cannot be appended to. */
	buf[0] = 0x82;
	assert_false(sl_rec_append_begin(&w, buf, len, sizeof(buf)));
}

static void test_writer_overflow(void **st)
{
	uint8_t buf[16];
	struct sl_rec_writer w;

	(void)st;
	sl_rec_begin(&w, buf, sizeof(buf));
	sl_rec_put_str(&w, "k", "0123456789", 10); /* 3 + 2 + 11 = 16: fits exactly */
	assert_int_equal(sl_rec_end(&w), 16);
	sl_rec_begin(&w, buf, sizeof(buf));
	sl_rec_put_str(&w, "k", "01234567890", 11);
	assert_int_equal(sl_rec_end(&w), 0);
	assert_true(w.overflow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_every_type),
		cmocka_unit_test(test_every_truncation_is_safe),
		cmocka_unit_test(test_lying_counts),
		cmocka_unit_test(test_no_record),
		cmocka_unit_test(test_writer_and_append),
		cmocka_unit_test(test_writer_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
