/*
 * Libraries opened on first use (lazylib.h): a real library opens once and its symbols
 * resolve to the same functions the linker would give (checked by calling them on values
 * worked out here); a missing library fails, says so, and is not tried again; a missing
 * symbol is NULL; the metrics, pdump and bpf libraries Sluice names exist on this machine
 * (a wrong soname would only show when a user first asks for the feature).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <dlfcn.h>

#include "base/lazylib.h"

static void test_real_library(void **state)
{
	struct sl_lazylib z = { .soname = "libz.so.1" };
	unsigned long (*adler)(unsigned long, const unsigned char *, unsigned);
	void *first;

	(void)state;
	assert_int_equal(sl_lazylib_open(&z, "test"), 0);
	first = z.handle;
	assert_non_null(first);
	assert_int_equal(sl_lazylib_open(&z, "test"), 0);
	assert_ptr_equal(z.handle, first);
	adler = (unsigned long (*)(unsigned long, const unsigned char *, unsigned))sl_lazylib_sym(
		&z, "adler32");
	assert_non_null(adler);
	/* Adler-32 of "abc": a = 1+97+98+99 = 295, b = 98+196+295 = 589 -> 589 << 16 | 295. */
	assert_int_equal(adler(1, (const unsigned char *)"abc", 3), (589ul << 16) | 295ul);
	assert_null(sl_lazylib_sym(&z, "no_such_symbol_here"));
}

static void test_missing_library(void **state)
{
	struct sl_lazylib m = { .soname = "libsluice-no-such-library.so.99" };

	(void)state;
	assert_int_equal(sl_lazylib_open(&m, "test"), -1);
	assert_true(m.failed);
	assert_null(m.handle);
	assert_int_equal(sl_lazylib_open(&m, "test"), -1);
	assert_null(sl_lazylib_sym(&m, "anything"));
}

static void test_named_libraries_exist(void **state)
{
	static const char *const names[] = { "libmicrohttpd.so.12", "librte_pdump.so.23",
					     "librte_bpf.so.23" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);

		if (!h)
			fail_msg("%s: %s", names[i], dlerror());
		dlclose(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_library),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_named_libraries_exist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
