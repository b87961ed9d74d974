/*
 * Checkpoint files (see checkpoint.h): a strict parser that names the byte offset of the
 * first thing wrong, the formatter, and the atomic replace (temp file, fsync, rename,
 * fsync of the directory). Control path only; owns no state between calls.
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define CKPT_MAGIC    "sluice-checkpoint 2\n"
#define CKPT_MAGIC_V1 "sluice-checkpoint 1\n"

struct ckpt_cur {
	const char *buf;
	size_t len, pos;
	struct sl_ckpt_error *err;
};

static int ckpt_fail(struct ckpt_cur *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int ckpt_fail(struct ckpt_cur *c, const char *fmt, ...)
{
	va_list ap;

	c->err->off = c->pos;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The literal s at the cursor. */
static bool ckpt_lit(struct ckpt_cur *c, const char *s)
{
	size_t l = strlen(s);

	if (c->len - c->pos < l || memcmp(c->buf + c->pos, s, l) != 0)
		return false;
	c->pos += l;
	return true;
}

/* A decimal number up to max: digits, no sign, no leading zero. */
static int ckpt_dec(struct ckpt_cur *c, uint64_t max, uint64_t *v, const char *what)
{
	size_t start = c->pos;
	uint64_t x = 0;

	while (c->pos < c->len && c->buf[c->pos] >= '0' && c->buf[c->pos] <= '9') {
		unsigned d = (unsigned)(c->buf[c->pos] - '0');

		if (c->pos > start && x == 0) {
			c->pos = start;
			return ckpt_fail(c, "%s: leading zero", what);
		}
		if (d > max || x > (max - d) / 10) {
			c->pos = start;
			return ckpt_fail(c, "%s: larger than %" PRIu64, what, max);
		}
		x = x * 10 + d;
		c->pos++;
	}
	if (c->pos == start)
		return ckpt_fail(c, "expected %s (a decimal number)", what);
	*v = x;
	return 0;
}

/* Exactly 16 lower-case hex digits. */
static int ckpt_hex(struct ckpt_cur *c, uint64_t *v, const char *what)
{
	uint64_t x = 0;

	if (c->len - c->pos < 16)
		return ckpt_fail(c, "expected %s (16 hex digits)", what);
	for (int i = 0; i < 16; i++) {
		char ch = c->buf[c->pos + (size_t)i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else {
			c->pos += (size_t)i;
			return ckpt_fail(c, "expected %s (16 hex digits)", what);
		}
		x = x << 4 | d;
	}
	c->pos += 16;
	*v = x;
	return 0;
}

static int ckpt_sep(struct ckpt_cur *c, char ch)
{
	if (c->pos < c->len && c->buf[c->pos] == ch) {
		c->pos++;
		return 0;
	}
	return ckpt_fail(c, ch == ' ' ? "expected a space" : "expected the end of the line");
}

/* One file line after "file "; v1: the version 1 form, without the birth field. */
static int ckpt_parse_file(struct ckpt_cur *c, struct sl_ckpt_file *f, bool v1)
{
	uint64_t v[8] = { 0 };
	int rc;

	if ((rc = ckpt_dec(c, UINT64_MAX, &v[0], "device")) || (rc = ckpt_sep(c, ' ')) ||
	    (rc = ckpt_dec(c, UINT64_MAX, &v[1], "inode")) || (rc = ckpt_sep(c, ' ')) ||
	    (rc = ckpt_dec(c, 1u << 20, &v[2], "fingerprint length")) || (rc = ckpt_sep(c, ' ')) ||
	    (rc = ckpt_hex(c, &v[3], "fingerprint")) || (rc = ckpt_sep(c, ' ')) ||
	    (rc = ckpt_dec(c, UINT16_MAX, &v[4], "slot")) || (rc = ckpt_sep(c, ' ')) ||
	    (rc = ckpt_dec(c, (1ull << 48) - 1, &v[5], "offset")) || (rc = ckpt_sep(c, ' ')) ||
	    (rc = ckpt_dec(c, SL_CKPT_F_ALL, &v[6], "flags")))
		return rc;
	if (!v1 && ((rc = ckpt_sep(c, ' ')) || (rc = ckpt_dec(c, UINT64_MAX, &v[7], "birth time"))))
		return rc;
	if ((rc = ckpt_sep(c, '\n')))
		return rc;
	*f = (struct sl_ckpt_file){ .dev = v[0],
				    .ino = v[1],
				    .fp_len = (uint32_t)v[2],
				    .fp = v[3],
				    .slot = (uint16_t)v[4],
				    .off = v[5],
				    .flags = (uint8_t)v[6],
				    .birth = v[7] };
	return 0;
}

int sl_ckpt_parse(const char *buf, size_t len, struct sl_ckpt_file **files, uint32_t *n,
		  struct sl_ckpt_error *err)
{
	struct ckpt_cur c = { buf, len, 0, err };
	struct sl_ckpt_file *v = NULL;
	uint32_t cnt = 0, cap = 0;
	uint64_t want_n, want_h;
	size_t end_at, n_at;
	bool v1 = false;
	int rc;

	*files = NULL;
	*n = 0;
	if (ckpt_lit(&c, CKPT_MAGIC_V1))
		v1 = true;
	else if (!ckpt_lit(&c, CKPT_MAGIC))
		return ckpt_fail(&c, "not a sluice checkpoint (expected \"sluice-checkpoint 2\" or "
				     "\"sluice-checkpoint 1\")");
	for (;;) {
		if (c.pos == c.len) {
			rc = ckpt_fail(&c, "truncated: no end line");
			goto err;
		}
		if (ckpt_lit(&c, "file ")) {
			if (cnt == SL_CKPT_FILES_MAX) {
				rc = ckpt_fail(&c, "more than %u files", SL_CKPT_FILES_MAX);
				goto err;
			}
			if (cnt == cap) {
				uint32_t nc = cap ? cap * 2 : 16;
				struct sl_ckpt_file *nv = realloc(v, nc * sizeof(*nv));

				if (!nv) {
					rc = -ENOMEM;
					goto err;
				}
				v = nv;
				cap = nc;
			}
			rc = ckpt_parse_file(&c, &v[cnt], v1);
			if (rc)
				goto err;
			cnt++;
			continue;
		}
		end_at = c.pos;
		if (!ckpt_lit(&c, "end ")) {
			rc = ckpt_fail(&c, "expected a \"file\" or \"end\" line");
			goto err;
		}
		break;
	}
	n_at = c.pos;
	if ((rc = ckpt_dec(&c, UINT32_MAX, &want_n, "file count")))
		goto err;
	if (want_n != cnt) {
		c.pos = n_at;
		rc = ckpt_fail(&c, "end line counts %" PRIu64 " files, %u were read", want_n, cnt);
		goto err;
	}
	if ((rc = ckpt_sep(&c, ' ')) || (rc = ckpt_hex(&c, &want_h, "checksum")))
		goto err;
	if (want_h != XXH64(buf, end_at, 0)) {
		c.pos -= 16;
		rc = ckpt_fail(&c, "checksum mismatch: the file lines were changed");
		goto err;
	}
	if ((rc = ckpt_sep(&c, '\n')))
		goto err;
	if (c.pos != c.len) {
		rc = ckpt_fail(&c, "bytes after the end line");
		goto err;
	}
	*files = v;
	*n = cnt;
	return 0;
err:
	free(v);
	return rc;
}

int sl_ckpt_format(const struct sl_ckpt_file *files, uint32_t n, char **buf, size_t *len)
{
	/* "file " + 20 + 1 + 20 + 1 + 7 + 1 + 16 + 1 + 5 + 1 + 15 + 1 + 1 + 1 + 20 + 1 < 128 */
	size_t cap = sizeof(CKPT_MAGIC) + (size_t)n * 128 + 64, l;
	char *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	memcpy(b, CKPT_MAGIC, sizeof(CKPT_MAGIC) - 1);
	l = sizeof(CKPT_MAGIC) - 1;
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_ckpt_file *f = &files[i];

		l += (size_t)snprintf(b + l, cap - l,
				      "file %" PRIu64 " %" PRIu64 " %u %016" PRIx64 " %u %" PRIu64
				      " %u %" PRIu64 "\n",
				      f->dev, f->ino, f->fp_len, f->fp, f->slot,
				      (uint64_t)(f->off & ((1ull << 48) - 1)),
				      f->flags & SL_CKPT_F_ALL, f->birth);
	}
	l += (size_t)snprintf(b + l, cap - l, "end %u %016" PRIx64 "\n", n, XXH64(b, l, 0));
	*buf = b;
	*len = l;
	return 0;
}

int sl_ckpt_load(const char *path, struct sl_ckpt_file **files, uint32_t *n, char *msg,
		 size_t msg_len)
{
	struct sl_ckpt_error err = { 0 };
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	*files = NULL;
	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot open checkpoint %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot stat checkpoint %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SL_CKPT_BYTES_MAX) {
		rc = -EINVAL;
		snprintf(msg, msg_len, "checkpoint %s: %s", path,
			 S_ISREG(st.st_mode) ? "larger than 128 MiB" : "not a regular file");
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		snprintf(msg, msg_len, "checkpoint %s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(msg, msg_len, "cannot read checkpoint %s: %s", path,
				 strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = sl_ckpt_parse(buf, got, files, n, &err);
	if (rc == -EINVAL)
		snprintf(msg, msg_len, "checkpoint %s: byte %zu: %s", path, err.off, err.msg);
	else if (rc < 0)
		snprintf(msg, msg_len, "checkpoint %s: %s", path, strerror(-rc));
out:
	free(buf);
	close(fd);
	return rc;
}

/* The directory part of path ("." when none), malloc'd. */
static char *ckpt_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int ckpt_write_all(int fd, const char *b, size_t len)
{
	while (len) {
		ssize_t r = write(fd, b, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		b += r;
		len -= (size_t)r;
	}
	return 0;
}

int sl_ckpt_store(const char *path, const struct sl_ckpt_file *files, uint32_t n, char *msg,
		  size_t msg_len)
{
	size_t plen = strlen(path), len;
	char *tmp = malloc(plen + 5), *dir = ckpt_dir(path), *buf = NULL;
	int fd = -1, dfd, rc;

	if (!tmp || !dir || sl_ckpt_format(files, n, &buf, &len) < 0) {
		rc = -ENOMEM;
		snprintf(msg, msg_len, "checkpoint %s: out of memory", path);
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot create %s: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = ckpt_write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	fd = -1;
	if (rc < 0) {
		snprintf(msg, msg_len, "cannot write %s: %s", tmp, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot rename %s to %s: %s", tmp, path, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable only once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL)) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot sync directory %s: %s", dir, strerror(-rc));
	}
	if (dfd >= 0)
		close(dfd);
out:
	free(buf);
	free(tmp);
	free(dir);
	return rc;
}

int sl_ckpt_prepare(const char *path, char *msg, size_t msg_len)
{
	char *dir = ckpt_dir(path), *tmp = malloc(strlen(path) + 5);
	int rc = 0, fd;

	if (!dir || !tmp) {
		rc = -ENOMEM;
		snprintf(msg, msg_len, "checkpoint %s: out of memory", path);
		goto out;
	}
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(msg, msg_len, "cannot create directory %s for checkpoint %s: %s",
				 dir, path, strerror(-rc));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot create directory %s for checkpoint %s: %s", dir,
			 path, strerror(-rc));
		goto out;
	}
	sprintf(tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot create %s: %s", tmp, strerror(-rc));
		goto out;
	}
	close(fd);
	unlink(tmp);
out:
	free(dir);
	free(tmp);
	return rc;
}
