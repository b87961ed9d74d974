/*
 * Fuzz target for the SDK's record view (sluice/record.h: sl_mp_read, sl_rec_next,
 * sl_rec_find), through which every stage and plugin reads msgpack out of events without
 * trusting a length inside them. Any bytes, on an exactly sized heap copy (so ASan sees a
 * read past the end), are read both by the view and by msgpack-c's unpacker, an independent
 * parser:
 *   - the first value: the view reads it exactly when msgpack-c unpacks it, with the same
 *     length and type;
 *   - when it is a map, read as a record of exactly that length (as events carry one):
 *     sl_rec_next gives msgpack-c's pairs in order, each key and value spanning bytes that
 *     msgpack-c unpacks to the same object; sl_rec_find of each string key gives the value
 *     of its first pair, and of a key that is not there, nothing.
 * msgpack-c allocates a container's items up front, so an input with a header (anywhere)
 * that claims more items than it has bytes is not shown to it; the view must still refuse
 * such a value as the first. msgpack-c also stops at its nesting limit (32): a value the
 * view reads that deep is not compared. Every build replays tests/fuzz/corpus/record
 * (clang builds through libFuzzer, gcc builds through tests/lib/fuzz_replay.c);
 * -Dfuzz=true builds it for fuzzing.
 */
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/record.h>

#include "lib/mp_overclaim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                             \
	do {                                                  \
		fprintf(stderr, "record_fuzz: " __VA_ARGS__); \
		fputc('\n', stderr);                          \
		abort();                                      \
	} while (0)

/* memcmp, but msgpack-c leaves the pointer of an empty string or bin NULL. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* The view's reading of a scalar equals msgpack-c's; containers by their counts. */
static bool same_value(const struct sl_val *v, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return v->type == SL_VAL_NIL;
	case MSGPACK_OBJECT_BOOLEAN:
		return v->type == SL_VAL_BOOL && v->b == o->via.boolean;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return o->via.u64 > (uint64_t)INT64_MAX
			       ? v->type == SL_VAL_UINT && v->u == o->via.u64
			       : v->type == SL_VAL_INT && v->i == (int64_t)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return v->type == SL_VAL_INT && v->i == o->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return v->type == SL_VAL_FLOAT && memcmp(&v->f, &o->via.f64, sizeof(double)) == 0;
	case MSGPACK_OBJECT_STR:
		return v->type == SL_VAL_STR && v->s.len == o->via.str.size &&
		       same_bytes(v->s.p, o->via.str.ptr, v->s.len);
	case MSGPACK_OBJECT_BIN:
		return v->type == SL_VAL_BIN && v->s.len == o->via.bin.size &&
		       same_bytes(v->s.p, o->via.bin.ptr, v->s.len);
	case MSGPACK_OBJECT_EXT:
		return v->type == SL_VAL_EXT && v->s.len == o->via.ext.size &&
		       (int8_t)v->s.p[-1] == o->via.ext.type &&
		       same_bytes(v->s.p, o->via.ext.ptr, v->s.len);
	case MSGPACK_OBJECT_ARRAY:
		return v->type == SL_VAL_ARRAY && v->n == o->via.array.size;
	case MSGPACK_OBJECT_MAP:
		return v->type == SL_VAL_MAP && v->n == o->via.map.size;
	}
	return false;
}

/* msgpack_object_equal, with floats compared by their bits (a NaN equals itself). */
static bool same_object(const msgpack_object *a, const msgpack_object *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return memcmp(&a->via.f64, &b->via.f64, sizeof(double)) == 0;
	case MSGPACK_OBJECT_ARRAY:
		if (a->via.array.size != b->via.array.size)
			return false;
		for (uint32_t i = 0; i < a->via.array.size; i++)
			if (!same_object(&a->via.array.ptr[i], &b->via.array.ptr[i]))
				return false;
		return true;
	case MSGPACK_OBJECT_MAP:
		if (a->via.map.size != b->via.map.size)
			return false;
		for (uint32_t i = 0; i < a->via.map.size; i++)
			if (!same_object(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
			    !same_object(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
				return false;
		return true;
	default:
		return msgpack_object_equal(*a, *b);
	}
}

/* v's bytes unpack (msgpack-c) to exactly one object, equal to o, and v reads as o. */
static bool same_span(const struct sl_val *v, const msgpack_object *o)
{
	msgpack_unpacked u;
	size_t off = 0;
	bool ok;

	msgpack_unpacked_init(&u);
	ok = msgpack_unpack_next(&u, (const char *)v->raw, v->raw_len, &off) ==
		     MSGPACK_UNPACK_SUCCESS &&
	     off == v->raw_len && same_object(&u.data, o) && same_value(v, o);
	msgpack_unpacked_destroy(&u);
	return ok;
}

/* The value of the first pair whose key is the string k, or NULL. */
static const msgpack_object *first_with_key(const msgpack_object_map *m, const char *k,
					    uint32_t len)
{
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *key = &m->ptr[i].key;

		if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
		    same_bytes(key->via.str.ptr, k, len))
			return &m->ptr[i].val;
	}
	return NULL;
}

static void check_find(struct sl_rec rec, const msgpack_object_map *m, const char *k, uint32_t len)
{
	const msgpack_object *want = first_with_key(m, k, len);
	struct sl_val v;
	bool found = sl_rec_find(rec, k, len, &v);

	if (found != (want != NULL))
		FAIL("sl_rec_find of a %u-byte key: %s, msgpack-c: %s", len,
		     found ? "found" : "absent", want ? "present" : "absent");
	if (found && !same_span(&v, want))
		FAIL("sl_rec_find of a %u-byte key: not the first pair's value", len);
}

static void check_record(struct sl_rec rec, const msgpack_object_map *m)
{
	struct sl_val k, v;
	uint32_t pos = 0, i = 0;

	while (sl_rec_next(rec, &pos, &k, &v)) {
		if (i >= m->size)
			FAIL("sl_rec_next: more than msgpack-c's %u pairs", m->size);
		if (!same_span(&k, &m->ptr[i].key) || !same_span(&v, &m->ptr[i].val))
			FAIL("sl_rec_next: pair %u differs from msgpack-c's", i);
		i++;
	}
	if (i != m->size)
		FAIL("sl_rec_next: %u pairs, msgpack-c %u", i, m->size);
	for (i = 0; i < m->size; i++) {
		const msgpack_object *key = &m->ptr[i].key;

		if (key->type == MSGPACK_OBJECT_STR)
			check_find(rec, m, key->via.str.size ? key->via.str.ptr : "",
				   key->via.str.size);
	}
	/* Keys that are not there, of the lengths the prepared keys treat apart (<= 7
	 * bytes compared as one word, longer ones byte by byte). */
	check_find(rec, m, "\x01", 1);
	check_find(rec, m, "absent\x01", 7);
	check_find(rec, m, "not-a-key-\x01", 11);
}

/* Nesting depth of the value at p that sl_mp_read accepted (at most 1 + its bytes). */
static unsigned depth_of(const uint8_t *p, const uint8_t *end)
{
	uint64_t left[64], ch;
	unsigned top = 0, max = 0;
	struct sl_val v;

	left[0] = 1;
	while (p && p < end && top < 63) {
		p = sl_mp_head(p, end, &v, &ch);
		left[top]--;
		if (ch) {
			left[++top] = ch;
			max = top > max ? top : max;
		}
		while (top > 0 && left[top] == 0)
			top--;
		if (top == 0 && left[0] == 0)
			break;
	}
	return top >= 63 ? 64 : max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	const uint8_t *end;
	const uint8_t *q;
	msgpack_unpacked u;
	msgpack_unpack_return rc;
	struct sl_val v;
	size_t off = 0;
	long over;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	end = copy + size;
	q = sl_mp_read(copy, end, &v);
	over = mp_first_overclaim(copy, size);
	if (over >= 0) {
		/* Only at offset 0 is it sure to be a header: the first value's own. */
		if (q && over == 0)
			FAIL("a container claiming more items than %zu bytes was read", size);
		free(copy);
		return 0;
	}
	msgpack_unpacked_init(&u);
	rc = msgpack_unpack_next(&u, (const char *)copy, size, &off);
	if (rc == MSGPACK_UNPACK_SUCCESS) {
		if (!q)
			FAIL("msgpack-c unpacks %zu bytes the view refuses", off);
		if ((size_t)(q - copy) != off || v.raw_len != off)
			FAIL("the view reads %zu bytes, msgpack-c %zu", (size_t)(q - copy), off);
		if (!same_value(&v, &u.data))
			FAIL("the view reads another type or value than msgpack-c");
		if (u.data.type == MSGPACK_OBJECT_MAP)
			check_record((struct sl_rec){ copy, (uint32_t)off }, &u.data.via.map);
	} else if (q && !((rc == MSGPACK_UNPACK_PARSE_ERROR || rc == MSGPACK_UNPACK_NOMEM_ERROR) &&
			  depth_of(copy, end) >= 30)) {
		FAIL("the view reads %zu bytes msgpack-c cannot unpack (%d)", (size_t)(q - copy),
		     (int)rc);
	}
	msgpack_unpacked_destroy(&u);
	free(copy);
	return 0;
}
