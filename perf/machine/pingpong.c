/*
 * What one cache line costs to move between two CPUs of this machine: two threads pinned
 * to CPUs A and B (default 0 and 1) hand a counter back and forth ROUNDS times (default
 * 1,000,000) through one shared line; prints the mean nanoseconds a round trip. Run it a
 * few times, seconds apart: on the 2-vCPU VM of perf/RESULTS.md the figure is bimodal
 * (~90 ns, and ~330 ns when the host has put the two vCPUs far apart), which is what every
 * event that crosses lcores pays (the default round-robin placement; lanes do not).
 * usage: BUILD/perf/pingpong [ROUNDS [A B]]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Alignas(64) volatile uint64_t pp_line;
static uint64_t pp_rounds = 1000000;

static int pp_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Waits for odd values and answers with the next even one. */
static void *pp_other(void *arg)
{
	if (pp_pin(*(int *)arg) != 0) {
		fprintf(stderr, "pingpong: cannot pin to CPU %d\n", *(int *)arg);
		exit(1);
	}
	for (uint64_t i = 1; i < 2 * pp_rounds; i += 2) {
		while (pp_line != i)
			;
		pp_line = i + 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int a = 0, b = 1;
	struct timespec t0, t1;
	pthread_t t;

	if (argc > 1)
		pp_rounds = strtoull(argv[1], NULL, 10);
	if (argc > 3) {
		a = atoi(argv[2]);
		b = atoi(argv[3]);
	}
	if (pp_rounds == 0 || pp_pin(a) != 0) {
		fprintf(stderr, "usage: pingpong [ROUNDS [A B]] (CPU %d usable?)\n", a);
		return 2;
	}
	if (pthread_create(&t, NULL, pp_other, &b) != 0) {
		fprintf(stderr, "pingpong: cannot start a thread\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < 2 * pp_rounds; i += 2) {
		while (pp_line != i)
			;
		pp_line = i + 1;
	}
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f ns a round trip between CPUs %d and %d (%llu rounds)\n",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
		       (double)pp_rounds,
	       a, b, (unsigned long long)pp_rounds);
	return 0;
}
