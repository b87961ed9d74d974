/*
 * The single-purpose floor for "count nginx requests by status": what a hand-written C
 * program does on one core, with no framework around it. perf/bench-nginx-status.sh runs
 * it side by side with sluice and mawk so the ratios say how close the general engine gets
 * to code written for this one question. It reads the file in 1 MiB chunks with read(2),
 * finds lines with memchr, takes the three characters after the request's closing quote
 * (`" NNN `) as the status and counts them in a flat array. Lines with no such status
 * (malformed input) are counted as "other". Prints "STATUS COUNT" lines sorted by status,
 * then "other N" when N > 0. It owns nothing beyond its buffer; no threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FLOOR_CHUNK_BYTES
#define FLOOR_CHUNK_BYTES (1u << 20)
#endif

struct floor_counts {
	uint64_t by_status[1000];
	uint64_t other;
};

/* Status of one line (without its '\n'): the 3 digits after the second '"', or -1. */
static int floor_status(const char *line, size_t len)
{
	const char *end = line + len;
	const char *open = memchr(line, '"', len);
	const char *close;
	int s;

	if (open == NULL)
		return -1;
	close = memchr(open + 1, '"', (size_t)(end - open - 1));
	if (close == NULL || end - close < 6 || close[1] != ' ' || close[5] != ' ')
		return -1;
	if (close[2] < '0' || close[2] > '9' || close[3] < '0' || close[3] > '9' ||
	    close[4] < '0' || close[4] > '9')
		return -1;
	s = (close[2] - '0') * 100 + (close[3] - '0') * 10 + (close[4] - '0');
	return s;
}

static void floor_count_line(struct floor_counts *c, const char *line, size_t len)
{
	int s = floor_status(line, len);

	if (s < 0)
		c->other++;
	else
		c->by_status[s]++;
}

/* Count every complete line in buf[0, len); return how many bytes were consumed. */
static size_t floor_scan(struct floor_counts *c, const char *buf, size_t len)
{
	const char *p = buf;
	const char *end = buf + len;
	const char *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		floor_count_line(c, p, (size_t)(nl - p));
		p = nl + 1;
	}
	return (size_t)(p - buf);
}

static int floor_run(int fd, struct floor_counts *c)
{
	char *buf = malloc(FLOOR_CHUNK_BYTES);
	size_t have = 0;
	int skipping = 0; /* inside a line longer than the buffer: counted once, skipped */

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + have, FLOOR_CHUNK_BYTES - have);
		size_t used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		used = 0;
		if (skipping) {
			char *nl = memchr(buf, '\n', have);

			if (nl == NULL) {
				have = 0;
				continue;
			}
			used = (size_t)(nl - buf) + 1;
			skipping = 0;
		}
		used += floor_scan(c, buf + used, have - used);
		if (used == 0 && have == FLOOR_CHUNK_BYTES) {
			c->other++;
			skipping = 1;
			have = 0;
			continue;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	if (have > 0 && !skipping)
		floor_count_line(c, buf, have);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	static struct floor_counts c;
	int fd;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: floor ACCESS_LOG\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "floor: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	rc = floor_run(fd, &c);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "floor: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	for (int s = 0; s < 1000; s++)
		if (c.by_status[s] > 0)
			printf("%d %" PRIu64 "\n", s, c.by_status[s]);
	if (c.other > 0)
		printf("other %" PRIu64 "\n", c.other);
	return 0;
}
