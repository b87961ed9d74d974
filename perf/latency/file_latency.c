/*
 * Tail latency of a file follower (issue 3): a writer thread appends lines to LOG at a
 * paced rate, each line carrying the CLOCK_MONOTONIC time of the write() that appends it;
 * a reader thread follows OUT (what the follower under test writes: sluice's file sink,
 * or `tail -F` as the baseline), woken by inotify, and takes the time each line shows up
 * there. Latency = time seen in OUT - time appended to LOG; the reader's own wake-up
 * (inotify + read, tens of microseconds) is included, and is the same for every follower.
 *
 * Lines: "<append ns> <seq> <pad>\n", line_bytes long. Pacing: every period_us the writer
 * appends the lines due by then (rate x elapsed) in one write(), as a logging process
 * with a buffered writer does. The first warmup_s seconds are not counted (the follower
 * may still be starting). Prints one line of key=value figures (microseconds) and exits 0
 * when every line arrived exactly once, 1 otherwise.
 *
 * usage: file_latency LOG OUT [--rate N] [--seconds S] [--line-bytes B] [--period-us P]
 *                             [--warmup S] [--timeout S]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *log, *out;
	double rate, seconds, warmup, timeout;
	unsigned line_bytes, period_us;
};

static struct opts o = { .rate = 100000,
			 .seconds = 5,
			 .warmup = 1,
			 .timeout = 10,
			 .line_bytes = 100,
			 .period_us = 1000 };
static uint64_t n_total;
static uint64_t *lat_ns; /* per sequence number; 0 = not seen */
static uint8_t *seen;	 /* per sequence number: times seen */
static volatile int writer_done;
static uint64_t t_start;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *writer(void *arg)
{
	int fd = open(o.log, O_WRONLY | O_APPEND | O_CREAT, 0644);
	char *buf;
	size_t cap;
	uint64_t seq = 0;
	struct timespec next;

	(void)arg;
	if (fd < 0) {
		perror(o.log);
		exit(2);
	}
	cap = (size_t)(o.rate * o.period_us / 1e6 * 4 + 16) * o.line_bytes;
	buf = malloc(cap);
	if (!buf)
		exit(2);
	clock_gettime(CLOCK_MONOTONIC, &next);
	t_start = now_ns();
	while (seq < n_total) {
		uint64_t t = now_ns();
		uint64_t due = (uint64_t)((double)(t - t_start) * o.rate / 1e9) + 1;
		size_t len = 0;

		if (due > n_total)
			due = n_total;
		while (seq < due && len + o.line_bytes <= cap) {
			int k = snprintf(buf + len, o.line_bytes, "%" PRIu64 " %" PRIu64 " ", t,
					 seq);

			memset(buf + len + k, 'x', o.line_bytes - 1 - (unsigned)k);
			buf[len + o.line_bytes - 1] = '\n';
			len += o.line_bytes;
			seq++;
		}
		if (len && write(fd, buf, len) != (ssize_t)len) {
			perror("write");
			exit(2);
		}
		next.tv_nsec += (long)o.period_us * 1000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	close(fd);
	free(buf);
	writer_done = 1;
	return NULL;
}

static uint64_t n_got, n_dup, n_bad;

static void take(const char *line, size_t len, uint64_t t)
{
	uint64_t at, seq;
	char *e;

	if (len != o.line_bytes - 1) {
		n_bad++;
		return;
	}
	at = strtoull(line, &e, 10);
	if (*e != ' ') {
		n_bad++;
		return;
	}
	seq = strtoull(e + 1, &e, 10);
	if (*e != ' ' || seq >= n_total) {
		n_bad++;
		return;
	}
	if (seen[seq]++) {
		n_dup++;
		return;
	}
	lat_ns[seq] = t > at ? t - at : 1;
	n_got++;
}

static int reader(void)
{
	int in = inotify_init1(IN_NONBLOCK), fd = -1;
	static char buf[1 << 20];
	size_t have = 0;
	uint64_t deadline = 0;

	if (in < 0) {
		perror("inotify");
		return -1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		char ev[4096];
		ssize_t r;

		if (fd < 0) {
			fd = open(o.out, O_RDONLY);
			if (fd >= 0 && inotify_add_watch(in, o.out, IN_MODIFY) < 0) {
				perror("inotify_add_watch");
				return -1;
			}
		}
		while (fd >= 0 && (r = read(fd, buf + have, sizeof(buf) - have)) > 0) {
			uint64_t t = now_ns();
			char *p = buf, *end = buf + have + r, *q;

			while ((q = memchr(p, '\n', (size_t)(end - p)))) {
				take(p, (size_t)(q - p), t);
				p = q + 1;
			}
			have = (size_t)(end - p);
			memmove(buf, p, have);
		}
		if (n_got + n_dup >= n_total)
			return 0;
		if (writer_done && !deadline)
			deadline = now_ns() + (uint64_t)(o.timeout * 1e9);
		if (deadline && now_ns() > deadline)
			return 0;
		/* The file may not exist yet (no inotify on it): look again every 10 ms. */
		if (poll(&pfd, 1, fd < 0 ? 10 : 100) > 0)
			while (read(in, ev, sizeof(ev)) > 0)
				;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	pthread_t th;
	uint64_t from, n = 0, *v;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s LOG OUT [--rate N] [--seconds S] [--line-bytes B] "
			"[--period-us P] [--warmup S] [--timeout S]\n",
			argv[0]);
		return 2;
	}
	o.log = argv[1];
	o.out = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		double v = atof(argv[i + 1]);

		if (!strcmp(argv[i], "--rate"))
			o.rate = v;
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = v;
		else if (!strcmp(argv[i], "--line-bytes"))
			o.line_bytes = (unsigned)v;
		else if (!strcmp(argv[i], "--period-us"))
			o.period_us = (unsigned)v;
		else if (!strcmp(argv[i], "--warmup"))
			o.warmup = v;
		else if (!strcmp(argv[i], "--timeout"))
			o.timeout = v;
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (o.line_bytes < 48 || o.rate <= 0 || o.seconds <= o.warmup) {
		fprintf(stderr, "need --line-bytes >= 48, --rate > 0, --seconds > --warmup\n");
		return 2;
	}
	n_total = (uint64_t)(o.rate * o.seconds);
	lat_ns = calloc(n_total, sizeof(*lat_ns));
	seen = calloc(n_total, 1);
	v = calloc(n_total, sizeof(*v));
	if (!lat_ns || !seen || !v)
		return 2;
	pthread_create(&th, NULL, writer, NULL);
	if (reader() < 0)
		return 2;
	pthread_join(th, NULL);
	from = (uint64_t)(o.rate * o.warmup);
	for (uint64_t s = from; s < n_total; s++)
		if (lat_ns[s])
			v[n++] = lat_ns[s];
	qsort(v, n, sizeof(*v), cmp_u64);
#define PCT(p) (n ? v[(uint64_t)((double)(n - 1) * (p))] / 1000.0 : -1.0)
	printf("lines=%" PRIu64 " got=%" PRIu64 " missing=%" PRIu64 " dup=%" PRIu64 " bad=%" PRIu64
	       " counted=%" PRIu64 " p50_us=%.0f p90_us=%.0f p99_us=%.0f"
	       " p999_us=%.0f max_us=%.0f\n",
	       n_total, n_got, n_total - n_got, n_dup, n_bad, n, PCT(0.5), PCT(0.9), PCT(0.99),
	       PCT(0.999), PCT(1.0));
	return n_got == n_total && !n_dup && !n_bad ? 0 : 1;
}
