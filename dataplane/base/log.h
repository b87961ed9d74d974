/*
 * Structured log lines for the control path on stderr: logfmt ("ts=... level=... comp=...
 * msg=...") by default, or one JSON object per line (`--log-format json`). Levels follow
 * syslog (3 err .. 7 debug). Data paths must not log per event.
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

#define SL_ERR(comp, ...)    sl_log(SL_LOG_ERR, comp, __VA_ARGS__)
#define SL_WARN(comp, ...)   sl_log(SL_LOG_WARN, comp, __VA_ARGS__)
#define SL_NOTICE(comp, ...) sl_log(SL_LOG_NOTICE, comp, __VA_ARGS__)
#define SL_INFO(comp, ...)   sl_log(SL_LOG_INFO, comp, __VA_ARGS__)
#define SL_DEBUG(comp, ...)  sl_log(SL_LOG_DEBUG, comp, __VA_ARGS__)

#endif
