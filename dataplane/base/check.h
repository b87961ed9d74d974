/*
 * Invariant checks. SL_BUG_ON is always compiled in and belongs on control paths;
 * SL_BUG_ON_HOT is for data paths and exists only in debug and sanitizer builds
 * (HAProxy's split). Both abort with file:line so a core dump points at the cause.
 */
#ifndef SL_BASE_CHECK_H
#define SL_BASE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define SL_BUG_ON(cond)                                                                   \
	do {                                                                              \
		if (__builtin_expect(!!(cond), 0)) {                                      \
			fprintf(stderr, "BUG at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                          \
		}                                                                         \
	} while (0)

#ifdef SL_DEBUG_HOT
#define SL_BUG_ON_HOT(cond) SL_BUG_ON(cond)
#else
#define SL_BUG_ON_HOT(cond) ((void)0)
#endif

#define SL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
