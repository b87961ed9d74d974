/*
 * Registry of stage kinds: the built-in table (stages/builtin.c) plus stages of plugins
 * loaded by explicit path. A plugin is checked before any of its code runs: regular
 * file, not a symlink, not group/world-writable, owned by root or the running user, ELF
 * for this machine, exporting sluice_plugin_abi with our ABI major (read from the file, not
 * by running it). Then it is dlopen'ed and each descriptor is checked (ABI, size, name,
 * callbacks, outputs) before use. Control path only.
 */
#ifndef SL_PLUGIN_REGISTRY_H
#define SL_PLUGIN_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/stage.h>

struct sl_registry;

/** The built-in stages, NULL-terminated (stages/builtin.c). */
extern const struct sl_stage_desc *const sl_builtin_stages[];

/** Registry holding the built-ins, each checked with sl_stage_desc_check: 0, -ENOMEM, or
 *  -EINVAL (logged) when a built-in is malformed or two share a name. */
int sl_registry_create(struct sl_registry **out);
void sl_registry_destroy(struct sl_registry *r);

/** Find a stage kind by name; NULL when unknown. */
const struct sl_stage_desc *sl_registry_find(const struct sl_registry *r, const char *name);

/** Iterate: i-th stage kind (built-ins first), NULL past the end; *origin gets the plugin
 *  path or "builtin". */
const struct sl_stage_desc *sl_registry_at(const struct sl_registry *r, uint32_t i,
					   const char **origin);

/** Load a plugin by path. Returns 0, or -errno with a one-line reason naming the path in
 *  err: -ENOENT (no such file), -ELOOP (a symlink), -EINVAL (not a regular file, or a
 *  descriptor failed sl_stage_desc_check), -EPERM (group/world-writable, or owned by
 *  neither root nor the running user), -ENOEXEC (not an ELF shared object for this
 *  machine, not a plugin, ABI major differs, dlopen failed), -EEXIST (a stage name clashes
 *  with a known stage), -EBUSY (the file was rewritten in place while another registry
 *  holds its older version: same inode, other size or time). Loading the same path, or
 *  the same file under another name, twice is a no-op. A file loaded by several registries
 *  is mapped once and shared. Plugins stay loaded until sl_registry_destroy. */
int sl_plugin_load(struct sl_registry *r, const char *path, char *err, size_t err_len);

/** Check one descriptor; 0 or -EINVAL with the reason in err. A descriptor from an older
 *  ABI minor may be shorter than struct sl_stage_desc (but not shorter than
 *  offsetof(struct sl_stage_desc, state)): fields past its size read as NULL/0. */
int sl_stage_desc_check(const struct sl_stage_desc *d, char *err, size_t err_len);

#endif
