/*
 * Unit tests for resilience/memcap.c: a capped arena refuses large and small allocations
 * past its cap and counts each refused malloc once; the thread is back on its own arena
 * after sl_memcap_leave; memory of the arena freed by another thread is reused within the
 * cap. Linked with jemalloc; skipped (with the reason) in builds without it.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resilience/memcap.h"

#define CAP (4u << 20)
#define BIG (256u << 10)

/* The arena a pointer belongs to (jemalloc's arenas.lookup), or -1. */
static int arena_of(void *p)
{
	int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
		(int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT,
									       "mallctl");
	unsigned ind;
	size_t sz = sizeof(ind);

	if (!mallctl || mallctl("arenas.lookup", &ind, &sz, &p, sizeof(p)) != 0)
		return -1;
	return (int)ind;
}

/* Allocate size until NULL (at most max); the pointers go to p. Returns how many. */
static unsigned fill(void **p, unsigned max, size_t size)
{
	unsigned n = 0;

	while (n < max) {
		p[n] = malloc(size);
		if (!p[n])
			break;
		memset(p[n], 0x5a, size);
		n++;
	}
	return n;
}

static void test_large_refused_and_counted(void **state)
{
	static void *p[64];
	struct sl_memcap *m;
	char msg[200];
	uint64_t mapped, peak, refused, r;
	unsigned n;
	void *q;

	(void)state;
	m = sl_memcap_create(CAP, msg, sizeof(msg));
	assert_non_null(m);
	sl_memcap_enter(m);
	n = fill(p, 64, BIG);
	q = malloc(BIG); /* refused again */
	r = sl_memcap_leave(m);
	assert_null(q);
	/* At least half the cap is usable, and never more than the cap. */
	assert_true(n * (uint64_t)BIG <= CAP);
	assert_true(n >= CAP / BIG / 2);
	assert_int_equal(r, 2);
	sl_memcap_stats(m, &mapped, &peak, &refused);
	assert_true(mapped <= CAP && peak <= CAP && peak >= n * (uint64_t)BIG);
	assert_int_equal(refused, 2);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(arena_of(p[i]), (int)sl_memcap_arena(m));
	/* Back on the thread's own arena: the same size is no problem. */
	q = malloc(BIG);
	assert_non_null(q);
	assert_int_not_equal(arena_of(q), (int)sl_memcap_arena(m));
	free(q);
	for (unsigned i = 0; i < n; i++)
		free(p[i]);
}

static void test_small_refused(void **state)
{
	static void *p[CAP / 64 + 1];
	struct sl_memcap *m;
	char msg[200];
	unsigned n;
	uint64_t r;

	(void)state;
	m = sl_memcap_create(CAP, msg, sizeof(msg));
	assert_non_null(m);
	/* Small objects come from slabs (and would come from the thread cache): capped too. */
	sl_memcap_enter(m);
	n = fill(p, CAP / 64 + 1, 64);
	r = sl_memcap_leave(m);
	assert_true(n <= CAP / 64); /* 64 B objects: never more than the cap holds */
	assert_true(n > CAP / 64 / 4);
	assert_int_equal(r, 1);
	for (unsigned i = 0; i < n; i++)
		free(p[i]);
}

struct freer {
	void **p;
	unsigned n;
};

static void *free_all(void *arg)
{
	struct freer *f = arg;

	for (unsigned i = 0; i < f->n; i++)
		free(f->p[i]);
	return NULL;
}

static void test_freed_elsewhere_reused(void **state)
{
	static void *p[64], *p2[64];
	struct sl_memcap *m;
	char msg[200];
	unsigned n, n2;
	pthread_t t;
	struct freer f;

	(void)state;
	m = sl_memcap_create(CAP, msg, sizeof(msg));
	assert_non_null(m);
	sl_memcap_enter(m);
	n = fill(p, 64, BIG);
	sl_memcap_leave(m);
	assert_true(n >= 2);
	/* Another thread frees it all: it goes back to the stage's arena... */
	f = (struct freer){ p, n };
	assert_int_equal(pthread_create(&t, NULL, free_all, &f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* ...and the stage gets as much again within the same cap. */
	sl_memcap_enter(m);
	n2 = fill(p2, 64, BIG);
	sl_memcap_leave(m);
	assert_true(n2 >= n);
	for (unsigned i = 0; i < n2; i++)
		free(p2[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_refused_and_counted),
		cmocka_unit_test(test_small_refused),
		cmocka_unit_test(test_freed_elsewhere_reused),
	};

	if (!sl_memcap_available()) {
		printf("1..0 # SKIP this build does not run on jemalloc (-Djemalloc=disabled)\n");
		return 0;
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
