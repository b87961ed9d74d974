/*
 * Directory checks for plugin paths (see plugin_trust.h). The path is made absolute with
 * the working directory and walked one component at a time with lstat, so a symlink
 * anywhere on the way is seen (realpath would silently follow it). The configured plugin
 * directories are compared after that walk, when the directory part is known to contain
 * no symlinks, by their canonical names.
 */
#include "plugin_trust.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRUST_MAX_DIRS 64

static char *trust_dirs[TRUST_MAX_DIRS];
static uint32_t n_trust_dirs;
static uid_t trust_uid = (uid_t)-1;

int sl_plugin_trust_set_dirs(const char *const *dirs, uint32_t n, char *err, size_t len)
{
	char *canon[TRUST_MAX_DIRS];

	if (n > TRUST_MAX_DIRS) {
		snprintf(err, len, "plugin_dirs: at most %d directories", TRUST_MAX_DIRS);
		return -E2BIG;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct stat st;

		canon[i] = realpath(dirs[i], NULL);
		if (!canon[i] || stat(canon[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			int rc = canon[i] ? -ENOTDIR : -errno;

			snprintf(err, len, "plugin_dirs: %s: %s", dirs[i], strerror(-rc));
			for (uint32_t k = 0; k <= i; k++)
				free(canon[k]);
			return rc;
		}
	}
	for (uint32_t i = 0; i < n_trust_dirs; i++)
		free(trust_dirs[i]);
	memcpy(trust_dirs, canon, n * sizeof(*canon));
	n_trust_dirs = n;
	return 0;
}

void sl_plugin_trust_set_uid(uid_t uid)
{
	trust_uid = uid;
}

bool sl_plugin_trust_owner(uid_t u)
{
	return u == 0 || u == geteuid() || (trust_uid != (uid_t)-1 && u == trust_uid);
}

int sl_plugin_trust_check(const char *path, char *err, size_t len)
{
	char abs[PATH_MAX], *slash, *canon;
	size_t n;
	int rc = 0;

	if (path[0] == '/') {
		n = (size_t)snprintf(abs, sizeof(abs), "%s", path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd))) {
			snprintf(err, len, "plugin %s: cannot get the working directory: %s", path,
				 strerror(errno));
			return -errno;
		}
		n = (size_t)snprintf(abs, sizeof(abs), "%s/%s", strcmp(cwd, "/") ? cwd : "", path);
	}
	if (n >= sizeof(abs)) {
		snprintf(err, len, "plugin %s: path too long", path);
		return -ENAMETOOLONG;
	}
	slash = strrchr(abs, '/');
	/* Every directory prefix: "/", "/a", "/a/b", ... up to the plugin's directory. */
	for (char *p = abs; p <= slash; p++) {
		struct stat st;
		char keep;

		if (*p != '/')
			continue;
		keep = p[p == abs];
		p[p == abs] = '\0';
		if (lstat(abs, &st) < 0) {
			rc = -errno;
			snprintf(err, len, "plugin %s: directory %s: %s", path, abs, strerror(-rc));
		} else if (S_ISLNK(st.st_mode)) {
			rc = -ELOOP;
			snprintf(err, len,
				 "plugin %s: directory %s is a symlink; plugins are not loaded "
				 "through "
				 "symlinks (give the real path)",
				 path, abs);
		} else if (!S_ISDIR(st.st_mode)) {
			rc = -ENOTDIR;
			snprintf(err, len, "plugin %s: %s is not a directory", path, abs);
		} else if (!sl_plugin_trust_owner(st.st_uid)) {
			rc = -EPERM;
			snprintf(err, len,
				 "plugin %s: directory %s is owned by uid %u, not by root or the "
				 "running or service user",
				 path, abs, (unsigned)st.st_uid);
		} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			rc = -EPERM;
			snprintf(err, len,
				 "plugin %s: directory %s is group- or world-writable (mode %04o); "
				 "chmod go-w it",
				 path, abs, (unsigned)(st.st_mode & 07777));
		}
		p[p == abs] = keep;
		if (rc < 0)
			return rc;
	}
	if (n_trust_dirs == 0)
		return 0;
	*slash = '\0';
	canon = realpath(abs[0] ? abs : "/", NULL);
	*slash = '/';
	if (!canon) {
		snprintf(err, len, "plugin %s: %s", path, strerror(errno));
		return -errno;
	}
	for (uint32_t i = 0; i < n_trust_dirs; i++) {
		if (strcmp(canon, trust_dirs[i]) == 0) {
			free(canon);
			return 0;
		}
	}
	{
		size_t o = (size_t)snprintf(err, len,
					    "plugin %s: not in a plugin directory (%s; "
					    "plugin_dirs:",
					    path, canon);
		for (uint32_t i = 0; i < n_trust_dirs && o < len; i++)
			o += (size_t)snprintf(err + o, len - o, " %s", trust_dirs[i]);
		if (o < len)
			snprintf(err + o, len - o, ")");
	}
	free(canon);
	return -EACCES;
}
