/*
 * trace.c - W3C Trace Context: traceparent in and out (see trace.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "trace.h"

/* Whether the n characters at s are lower-case hex, not all of them '0'. */
static bool hex_field(const char *s, size_t n, bool zeros_ok)
{
	bool nonzero = false;

	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		nonzero |= s[i] != '0';
	}
	return zeros_ok || nonzero;
}

bool trace_id_valid(const char *s)
{
	return s != NULL && strlen(s) == TRACE_ID_HEX && hex_field(s, TRACE_ID_HEX, false);
}

bool trace_parse(const char *h, struct trace_ctx *t)
{
	size_t len;

	if (h == NULL)
		return false;
	len = strlen(h);
	/* version 00 is exactly 55 characters; a later version may add
	 * fields after a further '-' (level 1, "versioning of traceparent") */
	if (len < TRACEPARENT_LEN || !hex_field(h, 2, true) || strncmp(h, "ff", 2) == 0 ||
	    h[2] != '-' || h[35] != '-' || h[52] != '-' ||
	    !hex_field(h + 3, TRACE_ID_HEX, false) || !hex_field(h + 36, SPAN_ID_HEX, false) ||
	    !hex_field(h + 53, 2, true))
		return false;
	if (strncmp(h, "00", 2) == 0 ? len != TRACEPARENT_LEN
				     : len > TRACEPARENT_LEN && h[TRACEPARENT_LEN] != '-')
		return false;
	memcpy(t->trace_id, h + 3, TRACE_ID_HEX);
	t->trace_id[TRACE_ID_HEX] = '\0';
	memcpy(t->parent_id, h + 36, SPAN_ID_HEX);
	t->parent_id[SPAN_ID_HEX] = '\0';
	{
		char flags[3] = { h[53], h[54], '\0' };	/* two hex digits, checked above */

		t->flags = (uint8_t)strtoul(flags, NULL, 16);
	}
	return true;
}

/* n random bytes as 2n lower-case hex digits into out, never all zeros. */
static enum status random_hex(char *out, size_t n, struct errbuf *e)
{
	unsigned char b[16];

	do {
		if (crypto_random(b, n, e) != ST_OK)
			return ST_FAIL;
		crypto_hex(b, n, out);
	} while (!hex_field(out, 2 * n, false));
	return ST_OK;
}

enum status trace_new(struct trace_ctx *t, struct errbuf *e)
{
	t->parent_id[0] = '\0';
	t->flags = 1;
	return random_hex(t->trace_id, TRACE_ID_HEX / 2, e);
}

enum status trace_start(const char *header, struct trace_ctx *t, struct errbuf *e)
{
	if (trace_parse(header, t))
		return ST_OK;
	return trace_new(t, e);
}

enum status trace_span_id(char out[SPAN_ID_HEX + 1], struct errbuf *e)
{
	return random_hex(out, SPAN_ID_HEX / 2, e);
}

bool trace_format(const char *trace_id, const char *span_id, char out[TRACEPARENT_LEN + 1])
{
	char fresh[SPAN_ID_HEX + 1];
	struct errbuf e;

	if (span_id == NULL) {
		if (trace_span_id(fresh, &e) != ST_OK)
			return false;
		span_id = fresh;
	}
	snprintf(out, TRACEPARENT_LEN + 1, "00-%.32s-%.16s-01", trace_id, span_id);
	return true;
}
