/*
 * Where plugins may come from (docs/plugins.md, "Checks made at load"): checks on the
 * directories above a plugin file, made by the registry before the file's own checks.
 * Every directory from / down to the plugin's must be a real directory (not a symlink),
 * owned by root, the running user or the service user, and not group- or world-writable
 * unless it is sticky (/tmp): otherwise someone else could replace the plugin or a
 * directory on its way. When plugin directories are configured (`plugin_dirs:`), the
 * plugin's directory must be one of them. Control thread only; the policy is
 * process-wide, set before plugins load.
 */
#ifndef SL_RESILIENCE_PLUGIN_TRUST_H
#define SL_RESILIENCE_PLUGIN_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Only plugins directly in one of dirs (NULL/0: anywhere that passes the directory
 * checks). Each must exist; it is stored canonical (realpath). 0 or -errno with err
 * naming the directory. */
int sl_plugin_trust_set_dirs(const char *const *dirs, uint32_t n, char *err, size_t len);

/* A uid besides root and the running user that may own plugins and their directories
 * (the service user of `user:`); (uid_t)-1 for none. */
void sl_plugin_trust_set_uid(uid_t uid);

/* May uid own a plugin or a directory above it: root, the running user, the service user. */
bool sl_plugin_trust_owner(uid_t uid);

/* Check the directories above path. 0, or -errno with err ("plugin P: ..."): -ELOOP a
 * directory is a symlink, -EPERM owner or mode, -EACCES not in a plugin directory,
 * -ENOENT / other lstat errors. */
int sl_plugin_trust_check(const char *path, char *err, size_t len);

#endif
