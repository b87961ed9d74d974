/*
 * The client half of the control protocol, for `sluice ctl | stats | top` (main.c): find
 * the default socket, send one request line, read one response line. Blocking calls on
 * the calling thread, bounded by a timeout; owns nothing but what it returns.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "message.h"

int sl_ctl_find_socket(char *path, size_t len, char *err, size_t err_len)
{
	char dir[200], cand[512], found[512] = "", list[400] = "";
	unsigned n_live = 0;
	struct dirent *e;
	DIR *d;
	int rc = sl_ctl_default_dir(dir, sizeof(dir));

	if (rc < 0) {
		snprintf(err, err_len, "no default socket directory: %s", strerror(-rc));
		return rc;
	}
	d = opendir(dir);
	if (!d) {
		rc = -errno;
		snprintf(err, err_len, "no running sluice found (%s: %s); give --socket PATH", dir,
			 strerror(-rc));
		return -ENOENT;
	}
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		int fd;

		if (nl < 6 || strcmp(e->d_name + nl - 5, ".sock") != 0)
			continue;
		snprintf(cand, sizeof(cand), "%s/%s", dir, e->d_name);
		fd = sl_ctl_connect(cand);
		if (fd < 0)
			continue; /* a socket left by a killed run */
		close(fd);
		n_live++;
		snprintf(found, sizeof(found), "%s", cand);
		if (strlen(list) + strlen(cand) + 3 < sizeof(list))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] ? ", " : "", cand);
	}
	closedir(d);
	if (n_live == 0) {
		snprintf(err, err_len, "no running sluice found in %s; give --socket PATH", dir);
		return -ENOENT;
	}
	if (n_live > 1) {
		snprintf(err, err_len, "%u running sluice processes (%s); choose one with --socket",
			 n_live, list);
		return -EEXIST;
	}
	if (strlen(found) >= len) {
		snprintf(err, err_len, "socket path too long: %s", found);
		return -ENAMETOOLONG;
	}
	memcpy(path, found, strlen(found) + 1);
	return 0;
}

static int64_t client_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

int sl_ctl_call(int fd, const char *request, int timeout_ms, char **response, size_t *len)
{
	size_t rl = strlen(request), off = 0, cap = 0, have = 0;
	struct timespec deadline;
	char *buf = NULL, *nl;
	int rc, send_err = 0;

	*response = NULL;
	*len = 0;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	while (off < rl + 1) {
		ssize_t n = off < rl ? send(fd, request + off, rl - off, MSG_NOSIGNAL)
				     : send(fd, "\n", 1, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* A server that refused us may have said why before closing. */
			send_err = -errno;
			break;
		}
		off += (size_t)n;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = client_ms_left(&deadline);
		ssize_t n;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			goto err;
		}
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			rc = -errno;
			goto err;
		}
		if (rc == 0)
			continue;
		if (cap - have < 65536) {
			size_t ncap = cap ? 2 * cap : 65536 * 2;
			char *q;

			if (ncap > SL_CTL_RESPONSE_MAX + 1) {
				rc = -EMSGSIZE;
				goto err;
			}
			q = realloc(buf, ncap);
			if (!q) {
				rc = -ENOMEM;
				goto err;
			}
			buf = q;
			cap = ncap;
		}
		n = recv(fd, buf + have, cap - have - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = send_err ? send_err : -errno;
			goto err;
		}
		if (n == 0) {
			rc = send_err ? send_err : -ECONNRESET;
			goto err;
		}
		nl = memchr(buf + have, '\n', (size_t)n);
		have += (size_t)n;
		if (nl) {
			*nl = '\0';
			*response = buf;
			*len = (size_t)(nl - buf);
			return 0;
		}
	}
err:
	free(buf);
	return rc;
}
