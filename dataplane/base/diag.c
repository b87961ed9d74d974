/*
 * Diagnostic list: see diag.h. Allocation failures drop the message rather than abort;
 * the count still tells the caller something went wrong.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sl_diag_add(struct sl_diag *d, const char *file, uint32_t line, uint32_t column,
		 const char *fmt, ...)
{
	char msg[512], *full;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		n = snprintf(NULL, 0, "%s:%u:%u: %s", file ? file : "-", line, column, msg);
	else
		n = snprintf(NULL, 0, "%s: %s", file ? file : "-", msg);
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? 2 * d->cap : 8;
		char **m = realloc(d->msgs, cap * sizeof(*m));
		if (!m)
			return;
		d->msgs = m;
		d->cap = cap;
	}
	full = malloc((size_t)n + 1);
	if (full) {
		if (line)
			snprintf(full, (size_t)n + 1, "%s:%u:%u: %s", file ? file : "-", line,
				 column, msg);
		else
			snprintf(full, (size_t)n + 1, "%s: %s", file ? file : "-", msg);
	}
	d->msgs[d->n++] = full;
}

void sl_diag_print(const struct sl_diag *d, FILE *f)
{
	for (uint32_t i = 0; i < d->n && i < d->cap; i++)
		fprintf(f, "%s\n", d->msgs[i] ? d->msgs[i] : "(out of memory)");
}

void sl_diag_fini(struct sl_diag *d)
{
	for (uint32_t i = 0; i < d->n && i < d->cap; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = d->cap = 0;
}
