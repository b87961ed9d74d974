/*
 * Structured log lines for the control path on stderr: logfmt ("ts=... level=... comp=...
 * msg=...") by default, or one JSON object per line (`--log-format json`). Levels follow
 * syslog (3 err .. 7 debug). Data paths must not log per event; what they may log goes
 * through a limiter (struct sl_log_limit, SL_LOG_LIMITED), so a stage that logs for every
 * event prints at most SL_LOG_LIMIT_BURST lines at once and SL_LOG_LIMIT_RATE a second,
 * then one line saying how many it suppressed.
 */
#ifndef SL_BASE_LOG_H
#define SL_BASE_LOG_H

enum sl_log_level {
	SL_LOG_ERR = 3,
	SL_LOG_WARN = 4,
	SL_LOG_NOTICE = 5,
	SL_LOG_INFO = 6,
	SL_LOG_DEBUG = 7,
};

enum sl_log_format {
	SL_LOG_LOGFMT = 0,
	SL_LOG_JSON,
};

/** logfmt (default) or JSON lines; set before other threads log. */
void sl_log_set_format(enum sl_log_format f);
/** "logfmt" or "json" -> format; -1 for anything else. */
int sl_log_format_parse(const char *s);

/** Lines above this level are not printed (default SL_LOG_NOTICE). */
void sl_log_set_level(int level);
int sl_log_get_level(void);

/** Log one line; comp names the module or stage ("eal", "file", a stage name). */
void sl_log(int level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#include <stdbool.h>
#include <stdint.h>

#define SL_LOG_LIMIT_BURST 10 /* lines a limiter lets through at once */
#define SL_LOG_LIMIT_RATE  5  /* lines a second it lets through after that */

/** A token bucket for log lines from the data path: one per call site or per replica,
 *  zero-initialised. Not locked: threads sharing one may let a line more through. */
struct sl_log_limit {
	uint64_t last_ns; /**< when tokens were last refilled */
	uint32_t tokens;  /**< lines that may go now */
	uint32_t suppressed;
	bool started;
};

/** May a line go at now_ns? On true, *suppressed is how many were held back since the
 *  last line that went (say so first when nonzero). */
bool sl_log_limit_take(struct sl_log_limit *l, uint64_t now_ns, uint32_t *suppressed);
/** CLOCK_MONOTONIC_COARSE in ns (vDSO: no system call). */
uint64_t sl_log_coarse_ns(void);
/** Log through a limiter (level checked first, so lines that would not print cost one
 *  compare); prints "N similar lines suppressed" before a line that follows a gap. */
void sl_log_limited(struct sl_log_limit *l, int level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define SL_LOG_LIMITED(level, comp, ...)                                       \
	do {                                                                   \
		static struct sl_log_limit sl_log_limit_site_;                 \
		sl_log_limited(&sl_log_limit_site_, level, comp, __VA_ARGS__); \
	} while (0)

#define SL_ERR(comp, ...)    sl_log(SL_LOG_ERR, comp, __VA_ARGS__)
#define SL_WARN(comp, ...)   sl_log(SL_LOG_WARN, comp, __VA_ARGS__)
#define SL_NOTICE(comp, ...) sl_log(SL_LOG_NOTICE, comp, __VA_ARGS__)
#define SL_INFO(comp, ...)   sl_log(SL_LOG_INFO, comp, __VA_ARGS__)
#define SL_DEBUG(comp, ...)  sl_log(SL_LOG_DEBUG, comp, __VA_ARGS__)

#endif
