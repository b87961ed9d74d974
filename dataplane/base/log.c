/*
 * Control-path logging: one logfmt line per call on stderr, with a UTC timestamp, level,
 * component and message (quoted when it has spaces). Called from any thread; each line is
 * written with a single write so lines from different lcores do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = SL_LOG_NOTICE;

void sl_log_set_level(int level)
{
	log_level = level;
}

int sl_log_get_level(void)
{
	return log_level;
}

static const char *log_level_name(int level)
{
	switch (level) {
	case SL_LOG_ERR:
		return "error";
	case SL_LOG_WARN:
		return "warn";
	case SL_LOG_NOTICE:
		return "notice";
	case SL_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void sl_log(int level, const char *comp, const char *fmt, ...)
{
	char msg[1024], line[1280];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s msg=\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, log_level_name(level), comp ? comp : "sluice");
	/* Escape quotes and newlines so one call stays one parseable line. */
	for (const char *p = msg; *p && n < (int)sizeof(line) - 3; p++) {
		if (*p == '"' || *p == '\\')
			line[n++] = '\\';
		line[n++] = *p == '\n' ? ' ' : *p;
	}
	line[n++] = '"';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
