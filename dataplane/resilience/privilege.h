/*
 * Dropping privileges for `sluice run` (docs/resilience.md). Two steps, both on the main
 * thread:
 *  - sl_priv_prepare, before the EAL starts any thread: PR_SET_NO_NEW_PRIVS and an empty
 *    inheritable capability set. Both are per-thread attributes inherited by threads
 *    created later, so DPDK's interrupt, control and worker threads all get them.
 *  - sl_priv_drop, after the EAL, the pipeline and the control socket are set up (hugepages
 *    mapped, ports and files open): setgroups, setresgid, setresuid to the service user.
 *    glibc applies these to every thread of the process (the set*id broadcast), and the
 *    kernel clears a thread's permitted and effective capabilities when its uids all
 *    leave 0, so no thread keeps any. The result is then checked thread by thread from
 *    /proc/self/task/ * /status.
 * Control path only.
 */
#ifndef SL_RESILIENCE_PRIVILEGE_H
#define SL_RESILIENCE_PRIVILEGE_H

#include <stddef.h>

/* 0 or -errno with a message in err. */
int sl_priv_prepare(char *err, size_t len);

/* Switch to user (a name or a numeric uid) and group (name or gid; NULL: the user's
 * primary group) when running as root; a no-op for other users (returns 1 when user or
 * group was asked for but not applied, with the reason in err). 0 after a checked drop,
 * or -errno with a message in err. */
int sl_priv_drop(const char *user, const char *group, char *err, size_t len);

#endif
