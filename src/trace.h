/*
 * trace.h - W3C Trace Context (level 1): the trace an exchange belongs
 * to, read from and written as a `traceparent` header
 *
 *   version "-" trace-id "-" parent-id "-" trace-flags
 *   00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
 *
 * with lower-case hex only, a trace id of 32 and a parent (span) id of 16
 * digits, neither all zeros, and version ff invalid.  A header that does
 * not fit is ignored: the exchange starts a new trace.  New ids are drawn
 * from OpenSSL's RAND_bytes (crypto_random()).
 */
#ifndef SCHAKEL_TRACE_H
#define SCHAKEL_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

#define TRACE_ID_HEX 32
#define SPAN_ID_HEX 16
#define TRACEPARENT_LEN 55	/* version 00, without the NUL */

struct trace_ctx {
	char trace_id[TRACE_ID_HEX + 1];
	char parent_id[SPAN_ID_HEX + 1];	/* the caller's span; "" for a new trace */
	uint8_t flags;				/* trace-flags (01: sampled) */
};

/*
 * Parses a traceparent header value strictly (NULL: none).  Returns true
 * with t filled, or false when it is absent or invalid (t untouched).
 */
bool trace_parse(const char *header, struct trace_ctx *t);

/* A new trace: a random trace id, no parent, flags 01. */
enum status trace_new(struct trace_ctx *t, struct errbuf *e);

/* Continues the trace of header when it is valid, else starts a new one. */
enum status trace_start(const char *header, struct trace_ctx *t, struct errbuf *e);

/* A random span id (16 hex digits and a NUL). */
enum status trace_span_id(char out[SPAN_ID_HEX + 1], struct errbuf *e);

/*
 * The traceparent value for a span of trace_id: "00-TRACE-SPAN-01" into
 * out (TRACEPARENT_LEN + 1 bytes).  A fresh span id when span_id is NULL;
 * false when the random generator fails.
 */
bool trace_format(const char *trace_id, const char *span_id,
		  char out[TRACEPARENT_LEN + 1]);

/* Whether s is a trace id: 32 lower-case hex digits, not all zeros. */
bool trace_id_valid(const char *s);

#endif
