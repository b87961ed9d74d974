/*
 * Control-path logging: one line per call on stderr, with a UTC timestamp, level,
 * component and message: logfmt (message always quoted) or a JSON object. Called from any
 * thread; each line is written with a single write so lines from different lcores do not
 * interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = SL_LOG_NOTICE;
static enum sl_log_format log_format = SL_LOG_LOGFMT;

void sl_log_set_format(enum sl_log_format f)
{
	log_format = f;
}

int sl_log_format_parse(const char *s)
{
	if (strcmp(s, "logfmt") == 0)
		return SL_LOG_LOGFMT;
	if (strcmp(s, "json") == 0)
		return SL_LOG_JSON;
	return -1;
}

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
		     log_format == SL_LOG_JSON
			     ? "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
			       "\"comp\":\"%s\",\"msg\":\""
			     : "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s msg=\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, log_level_name(level), comp ? comp : "sluice");
	/* Escape quotes, backslashes and control characters so one call stays one
	 * parseable line (a JSON string in both formats; newlines become spaces). */
	for (const unsigned char *p = (const unsigned char *)msg; *p && n < (int)sizeof(line) - 9;
	     p++) {
		if (*p == '"' || *p == '\\') {
			line[n++] = '\\';
			line[n++] = (char)*p;
		} else if (*p == '\n' || *p == '\r') {
			line[n++] = ' ';
		} else if (*p < 0x20) {
			n += snprintf(line + n, 7, "\\u%04x", *p);
		} else {
			line[n++] = (char)*p;
		}
	}
	line[n++] = '"';
	if (log_format == SL_LOG_JSON)
		line[n++] = '}';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* ---- limited lines for the data path ---- */

bool sl_log_limit_take(struct sl_log_limit *l, uint64_t now_ns, uint32_t *suppressed)
{
	uint64_t per = 1000000000ull / SL_LOG_LIMIT_RATE;

	if (!l->started) {
		l->started = true;
		l->tokens = SL_LOG_LIMIT_BURST;
		l->last_ns = now_ns;
	} else if (now_ns >= l->last_ns + per) {
		uint64_t add = (now_ns - l->last_ns) / per;

		l->tokens = add >= SL_LOG_LIMIT_BURST - l->tokens ? SL_LOG_LIMIT_BURST
								  : l->tokens + (uint32_t)add;
		l->last_ns += add * per;
	}
	if (l->tokens == 0) {
		l->suppressed++;
		return false;
	}
	l->tokens--;
	*suppressed = l->suppressed;
	l->suppressed = 0;
	return true;
}

uint64_t sl_log_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sl_log_limited(struct sl_log_limit *l, int level, const char *comp, const char *fmt, ...)
{
	uint32_t suppressed;
	char msg[1024];
	va_list ap;

	if (level > log_level || !sl_log_limit_take(l, sl_log_coarse_ns(), &suppressed))
		return;
	if (suppressed)
		sl_log(level, comp, "%u similar lines suppressed (at most %d a second)", suppressed,
		       SL_LOG_LIMIT_RATE);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_log(level, comp, "%s", msg);
}
