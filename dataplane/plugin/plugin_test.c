/*
 * Tests of the stage registry and the plugin loader: descriptor checks on hand-built
 * descriptors, and loading real fixture plugins (plugins/testing, plugins/template) from
 * private copies, one case per check the loader makes before running plugin code. The
 * fixture paths come as arguments, in the order plugins/meson.build passes them:
 * template.so wrong_abi.so bad_desc.so no_symbols.so old_minor.so.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "plugin/elf.h"
#include "plugin/registry.h"

enum { FX_TEMPLATE = 0, FX_WRONG_ABI, FX_BAD_DESC, FX_NO_SYMBOLS, FX_OLD_MINOR, FX_N };

static const char *fixtures[FX_N];

#define assert_contains(haystack, needle)                                             \
	do {                                                                          \
		if (!strstr((haystack), (needle)))                                    \
			fail_msg("'%s' does not contain '%s'", (haystack), (needle)); \
	} while (0)

/* ---- descriptor checks ---- */

static int t_init(const struct sl_host *h, const struct sl_args *a, void **conf,
		  struct sl_error *err)
{
	*conf = NULL;
	return 0;
}

static void t_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
		      struct sl_emit *out)
{
}

static void *t_create(const void *conf)
{
	return NULL;
}

static void t_merge(const void *conf, void *dst, const void *src)
{
}

static bool t_emit(const void *conf, void *state, uint64_t *cursor, struct sl_ctx *ctx,
		   struct sl_emit *out)
{
	return false;
}

static void t_state(const void *conf, void *state)
{
}

static const struct sl_state_ops full_ops = {
	.create = t_create,
	.merge = t_merge,
	.emit = t_emit,
	.reset = t_state,
	.destroy = t_state,
};

static struct sl_stage_desc good_desc(void)
{
	struct sl_stage_desc d = {
		SL_STAGE_DESC_INIT, .name = "good_stage",
		.version = "1",	    .summary = "a valid descriptor",
		.init = t_init,	    .process = t_process,
	};
	return d;
}

static void expect_bad(const struct sl_stage_desc *d, const char *why)
{
	char err[256] = "";

	assert_int_equal(sl_stage_desc_check(d, err, sizeof(err)), -EINVAL);
	assert_contains(err, why);
}

static void test_desc_good(void **state)
{
	static const char *const outs8[] = { "a", "b", "c", "d", "e", "f", "g", "h", NULL };
	static const char *const ctrs16[] = { "c0",  "c1",  "c2",  "c3",  "c4",	 "c5",
					      "c6",  "c7",  "c8",  "c9",  "c10", "c11",
					      "c12", "c13", "c14", "c15", NULL };
	static const struct sl_param_desc params[] = {
		{ .name = "field", .type = SL_PARAM_STR },
		{ .name = "limit", .type = SL_PARAM_INT },
		{ .name = "strict", .type = SL_PARAM_BOOL },
		{ .name = "keys", .type = SL_PARAM_LIST },
		{ NULL },
	};
	/* 48 characters: the longest accepted name. */
	static const char name48[] = "abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcd";
	struct sl_stage_desc d = good_desc();
	char err[256];

	assert_int_equal(strlen(name48), 48);
	assert_int_equal(sl_stage_desc_check(&d, err, sizeof(err)), 0);
	d.name = name48;
	d.outputs = outs8;
	d.counters = ctrs16;
	d.params = params;
	assert_int_equal(sl_stage_desc_check(&d, err, sizeof(err)), 0);
	d.flags = SL_STAGE_F_WINDOWED;
	d.state = &full_ops;
	assert_int_equal(sl_stage_desc_check(&d, err, sizeof(err)), 0);
	/* A newer minor with a longer descriptor is accepted. */
	d.size = sizeof(d) + 16;
	d.abi_minor = SL_ABI_MINOR + 1;
	assert_int_equal(sl_stage_desc_check(&d, err, sizeof(err)), 0);
}

static void test_desc_bad_header(void **state)
{
	struct sl_stage_desc d;
	char err[256], want[64];

	assert_int_equal(sl_stage_desc_check(NULL, err, sizeof(err)), -EINVAL);
	d = good_desc();
	d.abi_major = SL_ABI_MAJOR + 1;
	snprintf(want, sizeof(want), "ABI major %d, runtime speaks %d", SL_ABI_MAJOR + 1,
		 SL_ABI_MAJOR);
	expect_bad(&d, want);
	d = good_desc();
	d.size = offsetof(struct sl_stage_desc, state) - 1;
	expect_bad(&d, "size");
	d = good_desc();
	d.size = 0;
	expect_bad(&d, "size 0");
}

static void test_desc_bad_names(void **state)
{
	static const char *const bad[] = {
		"Template",
		"9lives",
		"_under",
		"has-dash",
		"has space",
		"dotted.name",
		"caf\xc3\xa9",
		/* 49 characters */
		"abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcde",
	};
	struct sl_stage_desc d = good_desc();

	d.name = NULL;
	expect_bad(&d, "no name");
	d.name = "";
	expect_bad(&d, "no name");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.name = bad[i];
		expect_bad(&d, "is not lower_snake_case");
	}
}

static void test_desc_bad_fields(void **state)
{
	struct sl_stage_desc d;

	d = good_desc();
	d.version = NULL;
	expect_bad(&d, "stage 'good_stage': version is NULL");
	d = good_desc();
	d.summary = NULL;
	expect_bad(&d, "summary is NULL");
	d = good_desc();
	d.init = NULL;
	expect_bad(&d, "init is NULL");
	d = good_desc();
	d.process = NULL;
	expect_bad(&d, "process is NULL");
	d = good_desc();
	d.flags = 0x4;
	expect_bad(&d, "unknown flags 0x4");
}

/* ABI 1.1: a writes list is checked like outputs; SL_STAGE_F_FORWARDS is a known flag. */
static void test_desc_writes(void **state)
{
	static const char *const writes[] = { "status", "path", NULL };
	static const char *const dup[] = { "status", "status", NULL };
	static const char *const bad[] = { "status", "a b", NULL };
	struct sl_stage_desc d = good_desc();
	char err[256];

	d.writes = writes;
	d.flags = SL_STAGE_F_FORWARDS;
	assert_int_equal(sl_stage_desc_check(&d, err, sizeof(err)), 0);
	d.writes = dup;
	expect_bad(&d, "writes 'status' declared twice");
	d.writes = bad;
	expect_bad(&d, "writes 1 is not an identifier");
}

static void test_desc_bad_lists(void **state)
{
	static const char *const outs9[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL };
	static const char *const outs_dup[] = { "match", "else", "match", NULL };
	static const char *const outs_dot[] = { "errors.match", NULL };
	static const char *const outs_empty[] = { "", NULL };
	static const char *const ctrs17[] = { "c0",  "c1",  "c2",  "c3",  "c4",	 "c5",
					      "c6",  "c7",  "c8",  "c9",  "c10", "c11",
					      "c12", "c13", "c14", "c15", "c16", NULL };
	static const char *const ctrs_dup[] = { "hits", "hits", NULL };
	struct sl_stage_desc d;

	d = good_desc();
	d.outputs = outs9;
	expect_bad(&d, "more than 8 outputs");
	d.outputs = outs_dup;
	expect_bad(&d, "outputs 'match' declared twice");
	d.outputs = outs_dot;
	expect_bad(&d, "outputs 0 is not an identifier");
	d.outputs = outs_empty;
	expect_bad(&d, "outputs 0 is not an identifier");
	d = good_desc();
	d.counters = ctrs17;
	expect_bad(&d, "more than 16 counters");
	d.counters = ctrs_dup;
	expect_bad(&d, "counters 'hits' declared twice");
}

static void test_desc_bad_params(void **state)
{
	static const struct sl_param_desc dup[] = {
		{ .name = "field", .type = SL_PARAM_STR },
		{ .name = "field", .type = SL_PARAM_INT },
		{ NULL },
	};
	static const struct sl_param_desc type0[] = { { .name = "x", .type = 0 }, { NULL } };
	static const struct sl_param_desc type6[] = {
		{ .name = "x", .type = (enum sl_param_type)6 }, { NULL }
	};
	static const struct sl_param_desc badname[] = { { .name = "max-len", .type = SL_PARAM_INT },
							{ NULL } };
	static const struct sl_param_desc reserved[] = {
		{ .name = "inputs", .type = SL_PARAM_LIST }, { NULL }
	};
	struct sl_stage_desc d = good_desc();

	d.params = dup;
	expect_bad(&d, "parameter 'field' declared twice");
	d.params = type0;
	expect_bad(&d, "parameter 'x' has unknown type 0");
	d.params = type6;
	expect_bad(&d, "parameter 'x' has unknown type 6");
	d.params = badname;
	expect_bad(&d, "parameter 0 is not an identifier");
	d.params = reserved;
	expect_bad(&d, "parameter 'inputs' is a reserved stage key");
	/* Every key the runtime reads on a stage, the isolation keys included: a parameter
	 * named `isolation` once took the key, and the stage ran in process. */
	{
		static const char *const keys[] = {
			"use",		 "replicas",	  "ring_size",	      "when_full",
			"scale",	 "ordered_by",	  "isolation",	      "budget",
			"memory",	 "cpu",		  "breaker_failures", "breaker_window",
			"breaker_probe", "breaker_policy"
		};
		struct sl_param_desc one[2] = { { .type = SL_PARAM_STR }, { NULL } };
		char want[96];

		d.params = one;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			one[0].name = keys[i];
			snprintf(want, sizeof(want), "parameter '%s' is a reserved stage key",
				 keys[i]);
			expect_bad(&d, want);
		}
	}
}

static void test_desc_bad_state(void **state)
{
	static const char *const op_names[] = { "create", "merge", "emit", "reset", "destroy" };
	struct sl_stage_desc d = good_desc();
	char why[64];

	d.flags = SL_STAGE_F_WINDOWED;
	expect_bad(&d, "windowed but has no state ops");
	for (int i = 0; i < 5; i++) {
		struct sl_state_ops ops = full_ops;

		/* Clear the i-th op, in declaration order. */
		if (i == 0)
			ops.create = NULL;
		else if (i == 1)
			ops.merge = NULL;
		else if (i == 2)
			ops.emit = NULL;
		else if (i == 3)
			ops.reset = NULL;
		else
			ops.destroy = NULL;
		snprintf(why, sizeof(why), "state op %s is NULL", op_names[i]);
		d.state = &ops;
		d.flags = SL_STAGE_F_WINDOWED;
		expect_bad(&d, why);
		d.flags = 0;
		expect_bad(&d, why);
	}
}

/* An older minor's descriptor ends before `state`: the check must not read past it (ASan
 * flags any read beyond this exact-size allocation). */
static void test_desc_short(void **state)
{
	const size_t short_size = offsetof(struct sl_stage_desc, state);
	struct sl_stage_desc full = good_desc();
	struct sl_stage_desc *d = malloc(short_size);
	char err[256];

	assert_non_null(d);
	full.size = (uint32_t)short_size;
	memcpy(d, &full, short_size);
	assert_int_equal(sl_stage_desc_check(d, err, sizeof(err)), 0);
	free(d);
}

/* ---- loading ---- */

static int load(struct sl_registry *r, const char *path, char *err, size_t len)
{
	int rc;

	err[0] = '\0';
	rc = sl_plugin_load(r, path, err, len);
	if (rc < 0)
		printf("# %s\n", err);
	return rc;
}

static uint32_t count_stages(const struct sl_registry *r)
{
	uint32_t n = 0;

	while (sl_registry_at(r, n, NULL))
		n++;
	return n;
}

static void test_builtins_listed(void **state)
{
	struct sl_registry *r;
	const char *origin = NULL;
	uint32_t n = 0;

	assert_int_equal(sl_registry_create(&r), 0);
	for (; sl_builtin_stages[n]; n++) {
		assert_ptr_equal(sl_registry_at(r, n, &origin), sl_builtin_stages[n]);
		assert_string_equal(origin, "builtin");
		assert_ptr_equal(sl_registry_find(r, sl_builtin_stages[n]->name),
				 sl_builtin_stages[n]);
	}
	assert_int_equal(count_stages(r), n);
	assert_null(sl_registry_find(r, "no_such_stage"));
	sl_registry_destroy(r);
}

static void test_load_good(void **state)
{
	struct sl_registry *r;
	const struct sl_stage_desc *d;
	const char *origin = NULL;
	char path[512], err[512];
	uint32_t n_builtin;

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_TEMPLATE], "good.so", 0644, path, sizeof(path)), 0);
	assert_int_equal(sl_registry_create(&r), 0);
	n_builtin = count_stages(r);
	assert_null(sl_registry_find(r, "template"));
	assert_int_equal(load(r, path, err, sizeof(err)), 0);
	d = sl_registry_find(r, "template");
	assert_non_null(d);
	assert_string_equal(d->name, "template");
	assert_non_null(d->process);
	assert_non_null(d->init);
	assert_string_equal(d->counters[0], "events");
	assert_null(d->counters[1]);
	assert_int_equal(count_stages(r), n_builtin + 1);
	assert_ptr_equal(sl_registry_at(r, n_builtin, &origin), d);
	assert_string_equal(origin, path);
	/* The same path again is a no-op. */
	assert_int_equal(load(r, path, err, sizeof(err)), 0);
	assert_int_equal(count_stages(r), n_builtin + 1);
	sl_registry_destroy(r);
}

/* Regression: dlopen("/proc/self/fd/N") of a second plugin, once the first one's fd N had
 * been closed and reused, returned the first plugin's handle (the dynamic loader matches
 * already-loaded objects by name), so the second plugin "clashed" with the first. */
static void test_two_plugins_in_one_registry(void **state)
{
	struct sl_registry *r;
	const struct sl_stage_desc *a, *b;
	const char *origin_a = NULL, *origin_b = NULL;
	char pa[512], pb[512], err[512];
	uint32_t n;

	assert_int_equal(sl_fixture_copy(fixtures[FX_TEMPLATE], "two_a.so", 0644, pa, sizeof(pa)),
			 0);
	assert_int_equal(sl_fixture_copy(fixtures[FX_OLD_MINOR], "two_b.so", 0644, pb, sizeof(pb)),
			 0);
	assert_int_equal(sl_registry_create(&r), 0);
	n = count_stages(r);
	assert_int_equal(load(r, pa, err, sizeof(err)), 0);
	assert_int_equal(load(r, pb, err, sizeof(err)), 0);
	assert_int_equal(count_stages(r), n + 2);
	a = sl_registry_at(r, n, &origin_a);
	b = sl_registry_at(r, n + 1, &origin_b);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->name, "template");
	assert_string_equal(origin_a, pa);
	assert_string_equal(b->name, "old_minor");
	assert_string_equal(origin_b, pb);
	assert_ptr_not_equal(a->process, b->process);
	sl_registry_destroy(r);
}

/*
 * Regression: a file loaded by two registries (the start-up one and a swap's) was
 * dlopen'ed twice, and the dynamic loader, finding it loaded, added the second
 * /proc/self/fd name to the loaded object; that name outlived its descriptor, so the next
 * plugin opened under the same number was handed the first plugin's code. Now a file is
 * mapped once per process and shared.
 */
static void test_shared_between_registries(void **state)
{
	struct sl_registry *r1, *r2, *r3;
	const struct sl_stage_desc *a, *a2, *b;
	char pa[512], pb[512], err[512];

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_TEMPLATE], "shared_a.so", 0644, pa, sizeof(pa)), 0);
	assert_int_equal(
		sl_fixture_copy(fixtures[FX_OLD_MINOR], "shared_b.so", 0644, pb, sizeof(pb)), 0);
	assert_int_equal(sl_registry_create(&r1), 0);
	assert_int_equal(sl_registry_create(&r2), 0);
	assert_int_equal(sl_registry_create(&r3), 0);
	assert_int_equal(load(r1, pa, err, sizeof(err)), 0);
	assert_int_equal(load(r2, pa, err, sizeof(err)), 0);
	a = sl_registry_find(r1, "template");
	a2 = sl_registry_find(r2, "template");
	assert_non_null(a);
	assert_non_null(a2);
	assert_ptr_equal(a->process, a2->process); /* one mapping */
	sl_registry_destroy(r2);
	/* Whatever descriptor number the next file gets, it is that file that is loaded. */
	assert_int_equal(load(r3, pb, err, sizeof(err)), 0);
	b = sl_registry_find(r3, "old_minor");
	assert_non_null(b);
	assert_null(sl_registry_find(r3, "template"));
	assert_ptr_not_equal(b->process, a->process);
	/* The first registry's plugin is still mapped and callable through it. */
	assert_ptr_equal(sl_registry_find(r1, "template")->process, a->process);
	sl_registry_destroy(r3);
	sl_registry_destroy(r1);
	/* Unmapped with its last registry: loading it again works. */
	assert_int_equal(sl_registry_create(&r1), 0);
	assert_int_equal(load(r1, pa, err, sizeof(err)), 0);
	assert_non_null(sl_registry_find(r1, "template"));
	sl_registry_destroy(r1);
}

/* A file rewritten in place (same inode, another time) while its older version is loaded
 * cannot be dlopen'ed apart from it: refused, naming the way out. */
static void test_rewritten_in_place(void **state)
{
	struct sl_registry *r1, *r2;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };
	char pa[512], err[512];

	assert_int_equal(sl_fixture_copy(fixtures[FX_TEMPLATE], "inplace.so", 0644, pa, sizeof(pa)),
			 0);
	assert_int_equal(sl_registry_create(&r1), 0);
	assert_int_equal(sl_registry_create(&r2), 0);
	assert_int_equal(load(r1, pa, err, sizeof(err)), 0);
	assert_int_equal(utimensat(AT_FDCWD, pa, ts, 0), 0);
	assert_int_equal(load(r2, pa, err, sizeof(err)), -EBUSY);
	assert_contains(err, pa);
	assert_contains(err, "rewritten in place");
	assert_null(sl_registry_find(r2, "template"));
	sl_registry_destroy(r2);
	sl_registry_destroy(r1);
}

static void test_load_old_minor(void **state)
{
	struct sl_registry *r;
	const struct sl_stage_desc *d;
	char path[512], err[512];

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_OLD_MINOR], "old_minor.so", 0644, path, sizeof(path)),
		0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), 0);
	d = sl_registry_find(r, "old_minor");
	assert_non_null(d);
	assert_string_equal(d->version, "0.9");
	/* The plugin's bytes past its size hold a bogus pointer; the registry's copy must not. */
	assert_int_equal(d->size, offsetof(struct sl_stage_desc, state));
	assert_null(d->state);
	assert_non_null(d->process);
	sl_registry_destroy(r);
}

static void test_wrong_abi(void **state)
{
	struct sl_registry *r;
	char path[512], err[512], want[600];
	void *h;

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_WRONG_ABI], "wrong_abi.so", 0644, path, sizeof(path)),
		0);
	unsetenv("SLUICE_TEST_WRONG_ABI_RAN");
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), -ENOEXEC);
	snprintf(want, sizeof(want), "plugin %s: ABI major %d, runtime speaks %d", path,
		 SL_ABI_MAJOR + 1, SL_ABI_MAJOR);
	assert_string_equal(err, want);
	assert_null(sl_registry_find(r, "wrong_abi"));
	/* None of its code ran: its constructor would have set this. */
	assert_null(getenv("SLUICE_TEST_WRONG_ABI_RAN"));
	sl_registry_destroy(r);

	/* Control: opening it directly does run the constructor, so the check above can fail. */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	assert_non_null(getenv("SLUICE_TEST_WRONG_ABI_RAN"));
	assert_string_equal(getenv("SLUICE_TEST_WRONG_ABI_RAN"), "1");
	dlclose(h);
	unsetenv("SLUICE_TEST_WRONG_ABI_RAN");
}

static void test_bad_desc(void **state)
{
	struct sl_registry *r;
	char path[512], err[512], want[600];
	uint32_t n;

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_BAD_DESC], "bad_desc.so", 0644, path, sizeof(path)), 0);
	assert_int_equal(sl_registry_create(&r), 0);
	n = count_stages(r);
	assert_int_equal(load(r, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "plugin %s: stage 'bad_desc': process is NULL", path);
	assert_string_equal(err, want);
	assert_null(sl_registry_find(r, "bad_desc"));
	assert_int_equal(count_stages(r), n);
	sl_registry_destroy(r);
}

static void test_writable(void **state)
{
	static const struct {
		mode_t mode;
		const char *text;
	} cases[] = {
		{ 0646, "(mode 0646)" },
		{ 0664, "(mode 0664)" },
		{ 0777, "(mode 0777)" },
	};
	struct sl_registry *r;
	char path[512], err[512];

	assert_int_equal(sl_registry_create(&r), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "writable%zu.so", i);
		assert_int_equal(sl_fixture_copy(fixtures[FX_TEMPLATE], name, cases[i].mode, path,
						 sizeof(path)),
				 0);
		assert_int_equal(load(r, path, err, sizeof(err)), -EPERM);
		assert_contains(err, path);
		assert_contains(err, "group- or world-writable");
		assert_contains(err, cases[i].text);
		assert_null(sl_registry_find(r, "template"));
	}
	/* The same bytes with go-w load: the mode was the only problem. */
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), 0);
	assert_non_null(sl_registry_find(r, "template"));
	sl_registry_destroy(r);
}

static void test_foreign_owner(void **state)
{
	struct sl_registry *r;
	char path[512], err[512];

	if (geteuid() != 0)
		skip(); /* only root can give a file to another user */
	assert_int_equal(
		sl_fixture_copy(fixtures[FX_TEMPLATE], "foreign.so", 0644, path, sizeof(path)), 0);
	assert_int_equal(chown(path, 12345, 12345), 0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), -EPERM);
	assert_contains(err, path);
	assert_contains(err, "owned by uid 12345, not by root or the running user (uid 0)");
	sl_registry_destroy(r);
}

static void test_symlink(void **state)
{
	struct sl_registry *r;
	char path[512], link[512], err[512];

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_TEMPLATE], "target.so", 0644, path, sizeof(path)), 0);
	sl_fixture_path(link, sizeof(link), "link.so");
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, link, err, sizeof(err)), -ELOOP);
	assert_contains(err, link);
	assert_contains(err, "is a symlink");
	assert_null(sl_registry_find(r, "template"));
	sl_registry_destroy(r);
}

static void test_missing_and_not_regular(void **state)
{
	struct sl_registry *r;
	char path[512], err[512], want[600];

	sl_fixture_path(path, sizeof(path), "does_not_exist.so");
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "plugin %s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(load(r, sl_fixture_tmpdir(), err, sizeof(err)), -EINVAL);
	assert_contains(err, sl_fixture_tmpdir());
	assert_contains(err, "not a regular file");
	sl_registry_destroy(r);
}

static void test_not_elf(void **state)
{
	static const char text[] = "stages:\n  - this is not a shared object\n";
	struct sl_registry *r;
	char path[512], err[512], want[600];
	FILE *f;

	sl_fixture_path(path, sizeof(path), "text.so");
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), -ENOEXEC);
	snprintf(want, sizeof(want), "plugin %s: not an ELF file", path);
	assert_string_equal(err, want);
	sl_registry_destroy(r);
}

static void test_no_symbols(void **state)
{
	struct sl_registry *r;
	char path[512], err[512], want[600];

	assert_int_equal(
		sl_fixture_copy(fixtures[FX_NO_SYMBOLS], "no_symbols.so", 0644, path, sizeof(path)),
		0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, path, err, sizeof(err)), -ENOEXEC);
	snprintf(want, sizeof(want), "plugin %s: not a Sluice plugin: no sluice_plugin_abi symbol",
		 path);
	assert_string_equal(err, want);
	sl_registry_destroy(r);
}

static void test_name_clash(void **state)
{
	struct sl_registry *r;
	char a[512], b[512], hard[512], err[512], want[1200];
	uint32_t n;

	assert_int_equal(sl_fixture_copy(fixtures[FX_TEMPLATE], "clash_a.so", 0644, a, sizeof(a)),
			 0);
	assert_int_equal(sl_fixture_copy(fixtures[FX_TEMPLATE], "clash_b.so", 0644, b, sizeof(b)),
			 0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(load(r, a, err, sizeof(err)), 0);
	n = count_stages(r);
	/* Another file defining the same stage name is refused. */
	assert_int_equal(load(r, b, err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "plugin %s: stage 'template' is already defined by %s", b, a);
	assert_string_equal(err, want);
	assert_int_equal(count_stages(r), n);
	/* The same file under another name (a hard link) is the same plugin: a no-op. */
	sl_fixture_path(hard, sizeof(hard), "clash_hard.so");
	unlink(hard);
	assert_int_equal(link(a, hard), 0);
	assert_int_equal(load(r, hard, err, sizeof(err)), 0);
	assert_int_equal(count_stages(r), n);
	sl_registry_destroy(r);
}

/* ---- the ELF reader on real and damaged images ---- */

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_true(n > 0);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_elf_reader(void **state)
{
	uint32_t abi[2];
	char err[256];
	size_t len;
	uint8_t *img;

	img = read_all(fixtures[FX_TEMPLATE], &len);
	assert_int_equal(sl_elf_plugin_abi(img, len, abi, err, sizeof(err)), 0);
	assert_int_equal(abi[0], SL_ABI_MAJOR);
	assert_int_equal(abi[1], SL_ABI_MINOR);
	free(img);

	img = read_all(fixtures[FX_WRONG_ABI], &len);
	assert_int_equal(sl_elf_plugin_abi(img, len, abi, err, sizeof(err)), 0);
	assert_int_equal(abi[0], SL_ABI_MAJOR + 1);
	assert_int_equal(abi[1], 0);
	free(img);

	img = read_all(fixtures[FX_NO_SYMBOLS], &len);
	assert_int_equal(sl_elf_plugin_abi(img, len, abi, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "not a Sluice plugin: no sluice_plugin_abi symbol");
	free(img);
}

/* The linker writes the section header table last, so every proper prefix of a plugin
 * lacks part of it: each must be refused. Each prefix is placed at the very end of one
 * allocation, so a read past it lands in the allocator's redzone (ASan). */
static void test_elf_truncated(void **state)
{
	uint32_t abi[2];
	char err[256];
	size_t len;
	uint8_t *img = read_all(fixtures[FX_TEMPLATE], &len);
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = buf + (len - n);

		memcpy(cut, img, n);
		err[0] = '\0';
		assert_true(sl_elf_plugin_abi(cut, n, abi, err, sizeof(err)) < 0);
		assert_true(err[0] != '\0');
	}
	free(buf);
	free(img);
}

/* Damage single header fields and check the reason given (offsets from <elf.h> layout). */
static void test_elf_damaged(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		const char *why;
	} cases[] = {
		{ 0, 0x7e, "not an ELF file" },
		{ 3, 'G', "not an ELF file" },
		{ 4, 1, "not a 64-bit ELF file (class 1)" },
		{ 5, 2, "byte order 2" },
		{ 16, 2, "not a shared object (ELF type 2)" }, /* ET_EXEC */
		{ 18, 40, "built for ELF machine 40" },
		{ 58, 0x20, "section headers" }, /* e_shentsize */
		{ 54, 0x10, "program headers" }, /* e_phentsize */
		{ 47, 0x7f, "section headers" }, /* e_shoff high byte */
	};
	uint32_t abi[2];
	char err[256];
	size_t len;
	uint8_t *img = read_all(fixtures[FX_TEMPLATE], &len);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t keep = img[cases[i].off];

		img[cases[i].off] = cases[i].val;
		assert_int_equal(sl_elf_plugin_abi(img, len, abi, err, sizeof(err)), -ENOEXEC);
		assert_contains(err, cases[i].why);
		img[cases[i].off] = keep;
	}
	/* Flip every byte in turn: any result but a crash or an overread is acceptable. */
	for (size_t off = 0; off < len; off++) {
		img[off] ^= 0xff;
		(void)sl_elf_plugin_abi(img, len, abi, err, sizeof(err));
		img[off] ^= 0xff;
	}
	assert_int_equal(sl_elf_plugin_abi(img, len, abi, err, sizeof(err)), 0);
	free(img);
}

static int group_teardown(void **state)
{
	sl_fixture_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_good),
		cmocka_unit_test(test_desc_bad_header),
		cmocka_unit_test(test_desc_bad_names),
		cmocka_unit_test(test_desc_bad_fields),
		cmocka_unit_test(test_desc_bad_lists),
		cmocka_unit_test(test_desc_writes),
		cmocka_unit_test(test_desc_bad_params),
		cmocka_unit_test(test_desc_bad_state),
		cmocka_unit_test(test_desc_short),
		cmocka_unit_test(test_builtins_listed),
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_two_plugins_in_one_registry),
		cmocka_unit_test(test_shared_between_registries),
		cmocka_unit_test(test_rewritten_in_place),
		cmocka_unit_test(test_load_old_minor),
		cmocka_unit_test(test_wrong_abi),
		cmocka_unit_test(test_bad_desc),
		cmocka_unit_test(test_writable),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_missing_and_not_regular),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_no_symbols),
		cmocka_unit_test(test_name_clash),
		cmocka_unit_test(test_elf_reader),
		cmocka_unit_test(test_elf_truncated),
		cmocka_unit_test(test_elf_damaged),
	};

	if (argc != 1 + FX_N) {
		printf("Bail out! usage: %s TEMPLATE WRONG_ABI BAD_DESC NO_SYMBOLS OLD_MINOR "
		       "(fixture .so paths, see plugins/meson.build)\n",
		       argv[0]);
		return 1;
	}
	for (int i = 0; i < FX_N; i++)
		fixtures[i] = argv[1 + i];
	return cmocka_run_group_tests_name("plugin", tests, NULL, group_teardown);
}
