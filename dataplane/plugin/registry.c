/*
 * The registry of stage kinds (see registry.h): the built-in table, checked once when the
 * registry is created, plus plugins loaded by explicit path. Loading a plugin is a
 * sequence of checks that run before any of its code does: the path names a regular file
 * that is not a symlink; the file opened (O_NOFOLLOW) is the one checked (same device and
 * inode); it is owned by root or the running user and not group- or world-writable; its
 * ELF image is a shared object for this machine that defines sluice_plugin_abi with our
 * ABI major (read from the file bytes, elf.c). Only then is the very same open file
 * dlopen'ed, through /proc/self/fd/N, once per process however many registries load it
 * (struct reg_object), and each exported descriptor checked before it is registered. A
 * registry owns a reference on each of its plugins' objects, the plugin paths and
 * zero-extended copies of descriptors from plugins built against an older ABI minor. A
 * registry is for one thread at a time (the control path); the objects are shared.
 */
#include "registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "elf.h"
#include "resilience/plugin_trust.h"
#include "resilience/sandbox.h"

/* Longest stage name, and longest output, counter or parameter name. */
#define REG_NAME_MAX 48
/* Bounds on lists a descriptor points at, so a missing terminator cannot run forever. */
#define REG_PARAMS_MAX	      64
#define REG_PLUGIN_STAGES_MAX 256
/* No real plugin comes near this; a bigger file is not read into memory. */
#define REG_PLUGIN_FILE_MAX (256u << 20)

#define REG_BUILTIN ((uint32_t)-1)

struct reg_stage {
	const struct sl_stage_desc *desc; /* the descriptor, or copy when it was shorter */
	struct sl_stage_desc *copy;	  /* owned zero-extended copy, or NULL */
	uint32_t plugin;		  /* index into plugins, or REG_BUILTIN */
};

/*
 * A plugin file mapped into the process, shared by every registry that loaded it (the
 * start-up one, a reload's, a swap's). Each file is dlopen'ed once, through
 * /proc/self/fd/<fd>, and fd stays open while the object is mapped. The dynamic loader
 * matches a new dlopen against the names of loaded objects before it opens anything, and
 * a second dlopen of a file that is loaded already (same device and inode) adds the new
 * name to that object: were the same file dlopen'ed again through another descriptor,
 * that descriptor's name would stay with the object after the descriptor closed, and the
 * next plugin to get the number would be handed the old object instead of its own code.
 */
struct reg_object {
	struct reg_object *next;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime; /* a file rewritten in place keeps its inode, not these */
	int fd;
	void *handle;
	uint32_t refs; /* registries holding it; 0 = kept mapped by the loader (never unloaded) */
};

struct reg_plugin {
	char *path;
	struct reg_object *obj;
};

struct sl_registry {
	struct reg_stage *stages;
	uint32_t n_stages, cap_stages;
	struct reg_plugin *plugins;
	uint32_t n_plugins, cap_plugins;
};

/* Parameter keys the pipeline file uses for a stage itself, so no parameter may take them;
 * the isolation keys too (sl_sandbox_is_key). A parameter of such a name took the key: a
 * stage's `isolation: process` reached the plugin as its argument and the stage ran in
 * process, unguarded. */
static const char *const reg_reserved_keys[] = {
	"use", "inputs", "replicas", "ring_size", "when_full", "scale", "ordered_by",
};

/* Identifier: [A-Za-z_][A-Za-z0-9_]*, 1..REG_NAME_MAX bytes. */
static bool reg_is_ident(const char *s)
{
	size_t n;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (n = 0; n <= REG_NAME_MAX && s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return n <= REG_NAME_MAX;
}

/* lower_snake_case: [a-z][a-z0-9_]*, 1..REG_NAME_MAX bytes. */
static bool reg_is_stage_name(const char *s)
{
	size_t n;

	if (!s || !(*s >= 'a' && *s <= 'z'))
		return false;
	for (n = 0; n <= REG_NAME_MAX && s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n <= REG_NAME_MAX;
}

/* Check a NULL-terminated list of names: at most max, each an identifier, no repeats. */
static int reg_check_names(const char *stage, const char *what, const char *const *names,
			   uint32_t max, char *err, size_t err_len)
{
	uint32_t n;

	if (!names)
		return 0;
	for (n = 0; names[n]; n++) {
		if (n == max)
			return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': more than %u %s",
					      stage, max, what);
		if (!reg_is_ident(names[n]))
			return sl_plugin_fail(
				err, err_len, -EINVAL,
				"stage '%s': %s %u is not an identifier of at most %d characters",
				stage, what, n, REG_NAME_MAX);
		for (uint32_t j = 0; j < n; j++)
			if (strcmp(names[j], names[n]) == 0)
				return sl_plugin_fail(err, err_len, -EINVAL,
						      "stage '%s': %s '%s' declared twice", stage,
						      what, names[n]);
	}
	return 0;
}

static int reg_check_params(const char *stage, const struct sl_param_desc *p, char *err,
			    size_t err_len)
{
	uint32_t n;

	if (!p)
		return 0;
	for (n = 0; p[n].name; n++) {
		if (n == REG_PARAMS_MAX)
			return sl_plugin_fail(
				err, err_len, -EINVAL,
				"stage '%s': more than %d parameters (missing { NULL } end?)",
				stage, REG_PARAMS_MAX);
		if (!reg_is_ident(p[n].name))
			return sl_plugin_fail(err, err_len, -EINVAL,
					      "stage '%s': parameter %u is not an identifier of at "
					      "most %d characters",
					      stage, n, REG_NAME_MAX);
		if (p[n].type < SL_PARAM_STR || p[n].type > SL_PARAM_MAP)
			return sl_plugin_fail(err, err_len, -EINVAL,
					      "stage '%s': parameter '%s' has unknown type %d",
					      stage, p[n].name, (int)p[n].type);
		for (size_t k = 0; k < sizeof(reg_reserved_keys) / sizeof(reg_reserved_keys[0]);
		     k++)
			if (strcmp(p[n].name, reg_reserved_keys[k]) == 0)
				return sl_plugin_fail(
					err, err_len, -EINVAL,
					"stage '%s': parameter '%s' is a reserved stage key", stage,
					p[n].name);
		if (sl_sandbox_is_key(p[n].name))
			return sl_plugin_fail(err, err_len, -EINVAL,
					      "stage '%s': parameter '%s' is a reserved stage key "
					      "(isolation)",
					      stage, p[n].name);
		for (uint32_t j = 0; j < n; j++)
			if (strcmp(p[j].name, p[n].name) == 0)
				return sl_plugin_fail(err, err_len, -EINVAL,
						      "stage '%s': parameter '%s' declared twice",
						      stage, p[n].name);
	}
	return 0;
}

static int reg_check_state(const char *stage, const struct sl_state_ops *s, uint32_t flags,
			   char *err, size_t err_len)
{
	const char *missing = NULL;

	if (!s) {
		if (flags & SL_STAGE_F_WINDOWED)
			return sl_plugin_fail(err, err_len, -EINVAL,
					      "stage '%s': windowed but has no state ops", stage);
		return 0;
	}
	if (!s->create)
		missing = "create";
	else if (!s->merge)
		missing = "merge";
	else if (!s->emit)
		missing = "emit";
	else if (!s->reset)
		missing = "reset";
	else if (!s->destroy)
		missing = "destroy";
	if (missing)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': state op %s is NULL",
				      stage, missing);
	return 0;
}

/* Copy a descriptor of any accepted size into a zeroed one of the current size. */
static void reg_desc_widen(const struct sl_stage_desc *d, struct sl_stage_desc *full)
{
	size_t n = d->size < sizeof(*full) ? d->size : sizeof(*full);

	memset(full, 0, sizeof(*full));
	memcpy(full, d, n);
}

int sl_stage_desc_check(const struct sl_stage_desc *d, char *err, size_t err_len)
{
	const size_t min_size = offsetof(struct sl_stage_desc, state);
	struct sl_stage_desc f;
	const char *name;
	int rc;

	if (!d)
		return sl_plugin_fail(err, err_len, -EINVAL, "NULL stage descriptor");
	if (d->abi_major != SL_ABI_MAJOR)
		return sl_plugin_fail(err, err_len, -EINVAL,
				      "stage descriptor has ABI major %u, runtime speaks %u",
				      d->abi_major, SL_ABI_MAJOR);
	if (d->size < min_size)
		return sl_plugin_fail(err, err_len, -EINVAL,
				      "stage descriptor size %u is below the minimum %zu", d->size,
				      min_size);
	reg_desc_widen(d, &f);
	if (!f.name || !*f.name)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage descriptor has no name");
	if (!reg_is_stage_name(f.name))
		return sl_plugin_fail(
			err, err_len, -EINVAL,
			"stage name '%.*s' is not lower_snake_case of at most %d characters",
			REG_NAME_MAX + 1, f.name, REG_NAME_MAX);
	name = f.name;
	if (!f.version)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': version is NULL", name);
	if (!f.summary)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': summary is NULL", name);
	if (!f.init)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': init is NULL", name);
	if (!f.process)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': process is NULL", name);
	if (f.flags & ~(uint32_t)SL_STAGE_F_ALL)
		return sl_plugin_fail(err, err_len, -EINVAL, "stage '%s': unknown flags 0x%x", name,
				      f.flags & ~(uint32_t)SL_STAGE_F_ALL);
	rc = reg_check_names(name, "outputs", f.outputs, SL_PORT_MAX, err, err_len);
	if (rc == 0)
		rc = reg_check_names(name, "counters", f.counters, SL_COUNTER_MAX, err, err_len);
	if (rc == 0)
		rc = reg_check_names(name, "writes", f.writes, SL_WRITES_MAX, err, err_len);
	if (rc == 0)
		rc = reg_check_params(name, f.params, err, err_len);
	if (rc == 0)
		rc = reg_check_state(name, f.state, f.flags, err, err_len);
	if (rc == 0 && f.outputs_from) {
		const struct sl_param_desc *p = f.params;

		while (p && p->name && strcmp(p->name, f.outputs_from) != 0)
			p++;
		if (!p || !p->name || p->type != SL_PARAM_MAP)
			rc = sl_plugin_fail(err, err_len, -EINVAL,
					    "stage '%s': outputs_from names no map parameter",
					    name);
	}
	return rc;
}

static int reg_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static const struct reg_stage *reg_lookup(const struct sl_registry *r, const char *name)
{
	for (uint32_t i = 0; i < r->n_stages; i++)
		if (strcmp(r->stages[i].desc->name, name) == 0)
			return &r->stages[i];
	return NULL;
}

static const char *reg_origin(const struct sl_registry *r, const struct reg_stage *s)
{
	return s->plugin == REG_BUILTIN ? "builtin" : r->plugins[s->plugin].path;
}

/* Append a checked descriptor; older (shorter) ones are kept as a zero-extended copy. */
static int reg_add(struct sl_registry *r, const struct sl_stage_desc *d, uint32_t plugin)
{
	struct reg_stage *s;
	int rc;

	rc = reg_grow((void **)&r->stages, &r->cap_stages, r->n_stages + 1, sizeof(*r->stages));
	if (rc < 0)
		return rc;
	s = &r->stages[r->n_stages];
	s->desc = d;
	s->copy = NULL;
	s->plugin = plugin;
	if (d->size < sizeof(*d)) {
		s->copy = malloc(sizeof(*s->copy));
		if (!s->copy)
			return -ENOMEM;
		reg_desc_widen(d, s->copy);
		s->desc = s->copy;
	}
	r->n_stages++;
	return 0;
}

/* The plugin files mapped into the process (struct reg_object): few, so a list. */
static struct reg_object *reg_objects;
static pthread_mutex_t reg_objects_lock = PTHREAD_MUTEX_INITIALIZER;

static void reg_object_name(const struct reg_object *o, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", o->fd);
}

/*
 * The object of the checked file behind fd (status st): the loaded one, with one more
 * reference, when that file is mapped already (fd is closed), or the file dlopen'ed now
 * (the object keeps fd). 0, or -errno with the reason in err (fd is closed).
 */
static int reg_object_get(const char *path, int fd, const struct stat *st, struct reg_object **out,
			  char *err, size_t err_len)
{
	struct reg_object *o;
	int rc = 0;

	pthread_mutex_lock(&reg_objects_lock);
	for (o = reg_objects; o; o = o->next)
		if (o->dev == st->st_dev && o->ino == st->st_ino)
			break;
	if (o) {
		close(fd);
		if (o->size != st->st_size || o->mtime.tv_sec != st->st_mtim.tv_sec ||
		    o->mtime.tv_nsec != st->st_mtim.tv_nsec)
			rc = sl_plugin_fail(err, err_len, -EBUSY,
					    "plugin %s: rewritten in place while its older version "
					    "is loaded (same inode): install a new version under "
					    "another name, or by rename",
					    path);
		else
			o->refs++;
		goto out;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		close(fd);
		rc = sl_plugin_fail(err, err_len, -ENOMEM, "plugin %s: out of memory", path);
		goto out;
	}
	o->fd = fd;
	o->dev = st->st_dev;
	o->ino = st->st_ino;
	o->size = st->st_size;
	o->mtime = st->st_mtim;
	{
		char name[64];

		/* The descriptor checked, not the path again: nothing can swap the file. */
		reg_object_name(o, name, sizeof(name));
		o->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	}
	if (!o->handle) {
		const char *e = dlerror();

		rc = sl_plugin_fail(err, err_len, -ENOEXEC, "plugin %s: dlopen failed: %s", path,
				    e ? e : "unknown error");
		close(fd);
		free(o);
		goto out;
	}
	o->refs = 1;
	o->next = reg_objects;
	reg_objects = o;
out:
	pthread_mutex_unlock(&reg_objects_lock);
	*out = rc < 0 ? NULL : o;
	return rc;
}

/* Drop a registry's reference; the last one unmaps the object and closes its descriptor,
 * unless the loader keeps the object mapped (a plugin marked nodelete, or one another
 * object depends on): then its name stays reserved, descriptor and all. */
static void reg_object_put(struct reg_object *o)
{
	char name[64];
	void *still;

	pthread_mutex_lock(&reg_objects_lock);
	if (o->refs == 0 || --o->refs > 0)
		goto out;
	dlclose(o->handle);
	reg_object_name(o, name, sizeof(name));
	still = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
	if (still) {
		o->handle = still; /* kept for good: reusable by the next registry */
		goto out;
	}
	for (struct reg_object **pp = &reg_objects; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	close(o->fd);
	free(o);
out:
	pthread_mutex_unlock(&reg_objects_lock);
}

int sl_registry_create(struct sl_registry **out)
{
	struct sl_registry *r = calloc(1, sizeof(*r));
	char err[256];
	int rc;

	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; sl_builtin_stages[i]; i++) {
		const struct sl_stage_desc *d = sl_builtin_stages[i];
		const struct reg_stage *dup;

		rc = sl_stage_desc_check(d, err, sizeof(err));
		if (rc < 0) {
			SL_ERR("plugin", "built-in stage %u: %s", i, err);
			goto err_free;
		}
		dup = reg_lookup(r, d->name);
		if (dup) {
			SL_ERR("plugin", "built-in stage '%s' is in the table twice", d->name);
			rc = -EINVAL;
			goto err_free;
		}
		rc = reg_add(r, d, REG_BUILTIN);
		if (rc < 0)
			goto err_free;
	}
	*out = r;
	return 0;

err_free:
	sl_registry_destroy(r);
	return rc;
}

void sl_registry_destroy(struct sl_registry *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n_stages; i++)
		free(r->stages[i].copy);
	free(r->stages);
	for (uint32_t i = 0; i < r->n_plugins; i++) {
		reg_object_put(r->plugins[i].obj);
		free(r->plugins[i].path);
	}
	free(r->plugins);
	free(r);
}

const struct sl_stage_desc *sl_registry_find(const struct sl_registry *r, const char *name)
{
	const struct reg_stage *s = reg_lookup(r, name);

	return s ? s->desc : NULL;
}

const struct sl_stage_desc *sl_registry_at(const struct sl_registry *r, uint32_t i,
					   const char **origin)
{
	if (i >= r->n_stages)
		return NULL;
	if (origin)
		*origin = reg_origin(r, &r->stages[i]);
	return r->stages[i].desc;
}

/* Read the whole file behind fd (size bytes, as fstat saw it) into a new buffer. */
static int reg_read_file(int fd, size_t size, uint8_t **out)
{
	uint8_t *buf = malloc(size ? size : 1);
	size_t got = 0;

	if (!buf)
		return -ENOMEM;
	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	*out = buf;
	return 0;
}

/*
 * The checks made on the file before any of its code runs. On success *fd_out is an
 * open descriptor of the checked file and *st its status.
 */
static int reg_check_file(const char *path, int *fd_out, struct stat *st, char *err, size_t err_len)
{
	struct stat lst;
	uint8_t *img = NULL;
	uint32_t abi[2];
	char why[200];
	int fd = -1, rc;

	if (lstat(path, &lst) < 0) {
		rc = -errno;
		return sl_plugin_fail(err, err_len, rc, "plugin %s: %s", path, strerror(-rc));
	}
	if (S_ISLNK(lst.st_mode))
		return sl_plugin_fail(err, err_len, -ELOOP,
				      "plugin %s: is a symlink; give the path of the file itself",
				      path);
	if (!S_ISREG(lst.st_mode))
		return sl_plugin_fail(err, err_len, -EINVAL, "plugin %s: not a regular file", path);
	/* O_NONBLOCK: should the path have become a FIFO since lstat, do not hang on it. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return sl_plugin_fail(err, err_len, rc, "plugin %s: cannot open: %s", path,
				      rc == -ELOOP ? "it became a symlink" : strerror(-rc));
	}
	if (fstat(fd, st) < 0) {
		rc = sl_plugin_fail(err, err_len, -errno, "plugin %s: cannot stat: %s", path,
				    strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st->st_mode) || st->st_dev != lst.st_dev || st->st_ino != lst.st_ino) {
		rc = sl_plugin_fail(err, err_len, -EAGAIN,
				    "plugin %s: the file changed while it was being checked", path);
		goto err_close;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		rc = sl_plugin_fail(
			err, err_len, -EPERM,
			"plugin %s: is group- or world-writable (mode %04o); chmod go-w it", path,
			(unsigned)(st->st_mode & 07777));
		goto err_close;
	}
	if (!sl_plugin_trust_owner(st->st_uid)) {
		rc = sl_plugin_fail(
			err, err_len, -EPERM,
			"plugin %s: is owned by uid %u, not by root or the running user (uid %u)",
			path, (unsigned)st->st_uid, (unsigned)geteuid());
		goto err_close;
	}
	if (st->st_size > REG_PLUGIN_FILE_MAX) {
		rc = sl_plugin_fail(err, err_len, -EFBIG, "plugin %s: larger than %u bytes", path,
				    REG_PLUGIN_FILE_MAX);
		goto err_close;
	}
	rc = reg_read_file(fd, (size_t)st->st_size, &img);
	if (rc < 0) {
		sl_plugin_fail(err, err_len, rc, "plugin %s: cannot read: %s", path, strerror(-rc));
		goto err_close;
	}
	rc = sl_elf_plugin_abi(img, (size_t)st->st_size, abi, why, sizeof(why));
	free(img);
	if (rc < 0) {
		/* -ENOENT from the reader means "no such symbol", not "no such file". */
		rc = rc == -ENOENT ? -ENOEXEC : rc;
		sl_plugin_fail(err, err_len, rc, "plugin %s: %s", path, why);
		goto err_close;
	}
	if (abi[0] != SL_ABI_MAJOR) {
		rc = sl_plugin_fail(err, err_len, -ENOEXEC,
				    "plugin %s: ABI major %u, runtime speaks %u", path, abi[0],
				    SL_ABI_MAJOR);
		goto err_close;
	}
	*fd_out = fd;
	return 0;

err_close:
	close(fd);
	return rc;
}

/* Check every exported descriptor and that no name is taken; 0 or -errno with err set. */
static int reg_check_plugin_stages(const struct sl_registry *r, const char *path,
				   const struct sl_stage_desc *const *stages, char *err,
				   size_t err_len)
{
	char why[256];
	uint32_t n;

	for (n = 0; stages[n]; n++) {
		const struct reg_stage *dup;

		if (n == REG_PLUGIN_STAGES_MAX)
			return sl_plugin_fail(err, err_len, -EINVAL,
					      "plugin %s: more than %d stages (missing NULL end?)",
					      path, REG_PLUGIN_STAGES_MAX);
		if (sl_stage_desc_check(stages[n], why, sizeof(why)) < 0)
			return sl_plugin_fail(err, err_len, -EINVAL, "plugin %s: %s", path, why);
		dup = reg_lookup(r, stages[n]->name);
		if (dup)
			return sl_plugin_fail(err, err_len, -EEXIST,
					      "plugin %s: stage '%s' is already defined by %s",
					      path, stages[n]->name, reg_origin(r, dup));
		for (uint32_t j = 0; j < n; j++)
			if (strcmp(stages[j]->name, stages[n]->name) == 0)
				return sl_plugin_fail(err, err_len, -EEXIST,
						      "plugin %s: stage '%s' exported twice", path,
						      stages[n]->name);
	}
	if (n == 0)
		return sl_plugin_fail(err, err_len, -EINVAL, "plugin %s: exports no stages", path);
	return 0;
}

int sl_plugin_load(struct sl_registry *r, const char *path, char *err, size_t err_len)
{
	const struct sl_stage_desc *const *stages;
	const uint32_t *abi;
	struct reg_object *obj;
	struct reg_plugin *p;
	struct stat st;
	uint32_t n_before = r->n_stages, idx;
	int fd = -1, rc;

	for (uint32_t i = 0; i < r->n_plugins; i++)
		if (strcmp(r->plugins[i].path, path) == 0)
			return 0;
	/* The directories on the way first: who could swap the file (plugin_trust.h). */
	rc = sl_plugin_trust_check(path, err, err_len);
	if (rc < 0)
		return rc;
	rc = reg_check_file(path, &fd, &st, err, err_len);
	if (rc < 0)
		return rc;
	/* The same file under another name (a hard link) is loaded already. */
	for (uint32_t i = 0; i < r->n_plugins; i++) {
		if (r->plugins[i].obj->dev == st.st_dev && r->plugins[i].obj->ino == st.st_ino) {
			close(fd);
			return 0;
		}
	}
	rc = reg_grow((void **)&r->plugins, &r->cap_plugins, r->n_plugins + 1, sizeof(*r->plugins));
	if (rc < 0) {
		close(fd);
		return sl_plugin_fail(err, err_len, rc, "plugin %s: out of memory", path);
	}
	/* Takes fd: the object owns it from here, or it is closed. */
	rc = reg_object_get(path, fd, &st, &obj, err, err_len);
	if (rc < 0)
		return rc;
	abi = dlsym(obj->handle, SL_PLUGIN_ABI_SYMBOL);
	if (!abi || abi[0] != SL_ABI_MAJOR) {
		rc = sl_plugin_fail(err, err_len, -ENOEXEC,
				    "plugin %s: %s in memory disagrees with the file", path,
				    SL_PLUGIN_ABI_SYMBOL);
		goto err_put;
	}
	stages = dlsym(obj->handle, SL_PLUGIN_STAGES_SYMBOL);
	if (!stages) {
		rc = sl_plugin_fail(err, err_len, -ENOEXEC,
				    "plugin %s: not a Sluice plugin: no %s symbol", path,
				    SL_PLUGIN_STAGES_SYMBOL);
		goto err_put;
	}
	rc = reg_check_plugin_stages(r, path, stages, err, err_len);
	if (rc < 0)
		goto err_put;

	idx = r->n_plugins;
	p = &r->plugins[idx];
	p->path = strdup(path);
	if (!p->path) {
		rc = sl_plugin_fail(err, err_len, -ENOMEM, "plugin %s: out of memory", path);
		goto err_put;
	}
	for (uint32_t i = 0; stages[i]; i++) {
		rc = reg_add(r, stages[i], idx);
		if (rc < 0) {
			sl_plugin_fail(err, err_len, rc, "plugin %s: out of memory", path);
			goto err_unadd;
		}
	}
	p->obj = obj;
	r->n_plugins++;
	SL_INFO("plugin", "loaded %s: %u stage(s), ABI %u.%u", path, r->n_stages - n_before, abi[0],
		abi[1]);
	return 0;

err_unadd:
	while (r->n_stages > n_before)
		free(r->stages[--r->n_stages].copy);
	free(p->path);
err_put:
	reg_object_put(obj);
	return rc;
}
