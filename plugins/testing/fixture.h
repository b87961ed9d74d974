/*
 * Helpers for tests that load plugins: a private temporary directory and copies of
 * fixture .so files in it with a chosen mode. Tests load copies rather than the build's
 * own files so the result does not depend on the umask the build ran under (a group-
 * writable build output would be refused by the loader) and so they can make bad cases
 * (world-writable, symlinked, foreign-owned) without touching the build tree. Used by
 * plugin_test.c and the plugins' own tests; test code only.
 */
#ifndef SL_PLUGINS_TESTING_FIXTURE_H
#define SL_PLUGINS_TESTING_FIXTURE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char sl_fixture_dir[256];

static inline int sl_fixture_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Create the private directory once; returns its path (exits the test on failure). */
static inline const char *sl_fixture_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (sl_fixture_dir[0])
		return sl_fixture_dir;
	snprintf(sl_fixture_dir, sizeof(sl_fixture_dir), "%s/sluice-plugin-test.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(sl_fixture_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	return sl_fixture_dir;
}

static inline void sl_fixture_cleanup(void)
{
	if (sl_fixture_dir[0])
		nftw(sl_fixture_dir, sl_fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
	sl_fixture_dir[0] = '\0';
}

/* Path of name inside the private directory, written to out. */
static inline void sl_fixture_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", sl_fixture_tmpdir(), name);
}

/* Copy src to name in the private directory with the given mode; 0 or -1. */
static inline int sl_fixture_copy(const char *src, const char *name, mode_t mode, char *out,
				  size_t len)
{
	char buf[65536];
	ssize_t n;
	int in, fd, rc = 0;

	sl_fixture_path(out, len, name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		fprintf(stderr, "# cannot open fixture %s\n", src);
		return -1;
	}
	unlink(out);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0 || fchmod(fd, mode) < 0)
		rc = -1;
	close(in);
	close(fd);
	return rc;
}

#endif
