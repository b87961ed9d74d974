/* Libraries opened on first use (lazylib.h). */
#include "base/lazylib.h"

#include <dlfcn.h>
#include <pthread.h>

#include "base/log.h"

static pthread_mutex_t lazylib_lock = PTHREAD_MUTEX_INITIALIZER;

int sl_lazylib_open(struct sl_lazylib *lib, const char *who)
{
	int ret = 0;

	pthread_mutex_lock(&lazylib_lock);
	if (!lib->handle && !lib->failed) {
		lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
		if (!lib->handle) {
			lib->failed = true;
			SL_ERR("lib", "%s needs %s, which cannot be loaded: %s", who, lib->soname,
			       dlerror());
		}
	}
	if (!lib->handle)
		ret = -1;
	pthread_mutex_unlock(&lazylib_lock);
	return ret;
}

void *sl_lazylib_sym(struct sl_lazylib *lib, const char *name)
{
	void *p;

	if (!lib->handle)
		return NULL;
	p = dlsym(lib->handle, name);
	if (!p)
		SL_ERR("lib", "%s has no symbol %s: %s", lib->soname, name, dlerror());
	return p;
}
