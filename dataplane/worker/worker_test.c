/*
 * Worker deep sleep (worker.h): two workers on plain threads, a producer whose task puts
 * an item on a ring when the test asks and a consumer whose task takes it. The consumer
 * blocks when idle (deep_ramp 1: a block lasts as long as the idleness so far, so after
 * 40 ms idle it would sleep 40 ms); the producer (which naps, at most 1 ms) must wake it
 * from its busy round, so an item crosses in well under a block. Stop with
 * sl_worker_wake_all ends a long block at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ring.h>

#include "eal.h"
#include "worker/worker.h"

#define TRIALS 10

static struct rte_ring *ring;
static uint32_t want;	  /* items the producer should have put; test thread stores */
static uint32_t put, got; /* producer's and consumer's counts */
static uint64_t got_tsc;  /* consumer: when it took the last item */

static unsigned produce(struct sl_task *t)
{
	(void)t;
	if (__atomic_load_n(&put, __ATOMIC_RELAXED) == __atomic_load_n(&want, __ATOMIC_ACQUIRE))
		return 0;
	if (rte_ring_enqueue(ring, (void *)(uintptr_t)1) != 0)
		return 0;
	__atomic_store_n(&put, put + 1, __ATOMIC_RELEASE);
	return 1;
}

static unsigned consume(struct sl_task *t)
{
	void *x;

	(void)t;
	if (rte_ring_dequeue(ring, &x) != 0)
		return 0;
	__atomic_store_n(&got_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	__atomic_store_n(&got, got + 1, __ATOMIC_RELEASE);
	return 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void *run(void *arg)
{
	sl_worker_loop(arg);
	return NULL;
}

static void test_producer_wakes_blocked_consumer(void **state)
{
	struct sl_task pt = { .run = produce, .name = "producer" };
	struct sl_task ct = { .run = consume, .name = "consumer" };
	struct {
		struct sl_task_list l;
		struct sl_task *t[1];
	} pl = { { 1 }, { &pt } }, cl = { { 1 }, { &ct } };
	struct sl_worker w[2] = {
		/* The producer naps (at most 1 ms): only its busy round may wake the consumer. */
		{ .list = &pl.l, .keep_running = true },
		{ .list = &cl.l,
		  .keep_running = true,
		  .deep_sleep_ns = 5000000000ull,
		  .deep_ramp = 1 },
	};
	uint64_t hz = rte_get_tsc_hz(), lat[TRIALS], t0, deep;
	pthread_t th[2];
	unsigned fast = 0;

	(void)state;
	ring = rte_ring_create("worker_test", 64, SOCKET_ID_ANY, 0);
	assert_non_null(ring);
	assert_int_equal(sl_worker_table(w, 2), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, run, &w[i]), 0);
	for (unsigned i = 0; i < TRIALS; i++) {
		/* 40 ms idle: the consumer blocks for 10, then 20 ms and more. */
		sleep_ms(40);
		t0 = rte_rdtsc();
		__atomic_store_n(&want, i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&got, __ATOMIC_ACQUIRE) != i + 1)
			sleep_ms(0);
		lat[i] = (__atomic_load_n(&got_tsc, __ATOMIC_RELAXED) - t0) * 1000000 / hz;
		fast += lat[i] < 3000; /* under 3 ms: woken, not timed out of a 10+ ms block */
		print_message("# item %u crossed in %lu us\n", i, (unsigned long)lat[i]);
	}
	deep = w[1].n_deep_sleeps;
	/* A 300 ms idle: the consumer's block is now long; stop must end it at once. */
	sleep_ms(300);
	t0 = rte_rdtsc();
	w[0].stop = w[1].stop = true;
	sl_worker_wake_all();
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t0 = (rte_rdtsc() - t0) * 1000 / hz;
	print_message("# consumer blocked %lu times; stop took %lu ms\n", (unsigned long)deep,
		      (unsigned long)t0);
	sl_worker_table_fini();
	rte_ring_free(ring);
	assert_true(deep >= TRIALS);	 /* it did block between items */
	assert_true(fast >= TRIALS - 2); /* and was woken (a loaded machine may lag twice) */
	assert_true(t0 < 100);		 /* its block would have lasted ~300 ms */
	assert_int_equal(put, TRIALS);
	assert_int_equal(got, TRIALS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_producer_wakes_blocked_consumer),
	};

	sl_test_eal_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
