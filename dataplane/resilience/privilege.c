/*
 * Privilege drop (see privilege.h). Capabilities are read and written with the raw
 * capget/capset system calls (version 3, two 32-bit words), so no libcap is needed. After
 * the drop every thread listed in /proc/self/task is checked: real, effective, saved and
 * filesystem uid and gid are the service user's, CapEff, CapPrm and CapAmb are zero and
 * NoNewPrivs is 1. A thread that does not comply fails the run before any event flows.
 */
#include "privilege.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A name or a decimal id: uid/gid. */
static int priv_parse_id(const char *s, unsigned long *id)
{
	char *end;

	if (!s[0] || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return *end || errno || *id >= 0xffffffffu ? -1 : 0;
}

int sl_priv_prepare(char *err, size_t len)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, len, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -errno;
	}
	if (syscall(SYS_capget, &h, d) < 0) {
		snprintf(err, len, "capget: %s", strerror(errno));
		return -errno;
	}
	if (d[0].inheritable || d[1].inheritable) {
		d[0].inheritable = d[1].inheritable = 0;
		if (syscall(SYS_capset, &h, d) < 0) {
			snprintf(err, len, "capset (clear inheritable): %s", strerror(errno));
			return -errno;
		}
	}
	/* Ambient capabilities would survive the uid change: clear them (Linux 4.3+). */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(err, len, "prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Every thread: ids all uid/gid, no capabilities, no_new_privs. 0 or -EPERM. */
static int priv_check_threads(uid_t uid, gid_t gid, char *err, size_t len)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	int rc = 0, n = 0;

	if (!dir) {
		snprintf(err, len, "cannot list /proc/self/task: %s", strerror(errno));
		return -errno;
	}
	while (rc == 0 && (de = readdir(dir))) {
		char path[300], line[256];
		unsigned long u[4], g[4];
		unsigned long long eff = 1, prm = 1, amb = 1;
		int nnp = -1, seen = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* the thread ended */
		while (fgets(line, sizeof(line), f)) {
			seen += sscanf(line, "Uid: %lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) ==
				4;
			seen += sscanf(line, "Gid: %lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]) ==
				4;
			seen += sscanf(line, "CapEff: %llx", &eff) == 1;
			seen += sscanf(line, "CapPrm: %llx", &prm) == 1;
			seen += sscanf(line, "CapAmb: %llx", &amb) == 1;
			seen += sscanf(line, "NoNewPrivs: %d", &nnp) == 1;
		}
		fclose(f);
		n++;
		if (seen != 6) {
			snprintf(err, len, "thread %s: cannot read its status", de->d_name);
			rc = -EIO;
			break;
		}
		for (int i = 0; i < 4; i++)
			if (u[i] != uid || g[i] != gid)
				rc = -EPERM;
		if (eff || prm || amb || nnp != 1)
			rc = -EPERM;
		if (rc)
			snprintf(
				err, len,
				"thread %s kept privileges after the drop: Uid %lu/%lu/%lu/%lu Gid "
				"%lu/%lu/%lu/%lu CapEff %llx CapPrm %llx CapAmb %llx NoNewPrivs %d",
				de->d_name, u[0], u[1], u[2], u[3], g[0], g[1], g[2], g[3], eff,
				prm, amb, nnp);
	}
	closedir(dir);
	if (rc == 0 && n == 0) {
		snprintf(err, len, "/proc/self/task lists no thread");
		rc = -EIO;
	}
	return rc;
}

int sl_priv_drop(const char *user, const char *group, char *err, size_t len)
{
	char buf[4096];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	unsigned long id;
	uid_t uid;
	gid_t gid;

	err[0] = '\0';
	if (!user && !group)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, len, "not running as root (uid %u): user/group not applied",
			 (unsigned)geteuid());
		return 1;
	}
	if (!user) {
		snprintf(err, len,
			 "group given without user: give user too (staying root is "
			 "not a privilege drop)");
		return -EINVAL;
	}
	if (priv_parse_id(user, &id) == 0) {
		uid = (uid_t)id;
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0)
			pwp = NULL;
	} else {
		if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
			snprintf(err, len, "user '%s': no such user", user);
			return -ENOENT;
		}
		uid = pwp->pw_uid;
	}
	if (group) {
		if (priv_parse_id(group, &id) == 0) {
			gid = (gid_t)id;
		} else {
			char gbuf[4096];

			if (getgrnam_r(group, &gr, gbuf, sizeof(gbuf), &grp) != 0 || !grp) {
				snprintf(err, len, "group '%s': no such group", group);
				return -ENOENT;
			}
			gid = grp->gr_gid;
		}
	} else if (pwp) {
		gid = pwp->pw_gid;
	} else {
		snprintf(err, len, "user %s has no passwd entry: give group too", user);
		return -EINVAL;
	}
	if (uid == 0) {
		snprintf(err, len, "user '%s' is root: that drops nothing", user);
		return -EINVAL;
	}
	/* Groups first: after setresuid we could no longer change them. Each call is
	 * applied to every thread by glibc. */
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		snprintf(err, len, "cannot switch to uid %u gid %u: %s", (unsigned)uid,
			 (unsigned)gid, strerror(errno));
		return -errno;
	}
	if (setuid(0) == 0) {
		snprintf(err, len, "could become root again after the drop");
		return -EPERM;
	}
	return priv_check_threads(uid, gid, err, len);
}
