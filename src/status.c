/* status.c - the result type (see status.h). */
#include <stdarg.h>
#include <stdio.h>

#include "status.h"

enum status errbuf_set(struct errbuf *e, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return st;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return st;
}
