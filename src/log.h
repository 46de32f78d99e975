/*
 * log.h - the daemon's own log: one event a line on stderr, in logfmt or
 * JSON ([log] format), with a level and a subsystem, so operators can grep
 * by either (nginx's ngx_log_error, collectd's "plugin: ...").
 *
 *   time=2026-11-27T22:00:00Z level=warn subsys=http msg="refused" status=401
 *
 * Fields come as NULL-terminated key/value pairs of strings.  Values of the
 * keys that carry outside text (path, reason, error) have control
 * characters replaced and BSN-like numbers masked (log_mask_bsn), so
 * neither a BSN nor a terminal escape reaches the log; keys never appear
 * in any field.
 *
 * Every value of every key, and msg, is escaped too (esc.h: ESC as \x1b,
 * C1 as \u009b, bytes that are not UTF-8 as \xNN), in logfmt and JSON
 * alike: no value can end a line early or reach a reader's terminal raw.
 */
#ifndef SCHAKEL_LOG_H
#define SCHAKEL_LOG_H

#include <stdbool.h>

enum log_level { LV_ERROR = 0, LV_WARN = 1, LV_INFO = 2, LV_DEBUG = 3 };

/* Sets the least severe level logged and the format ("logfmt", "json"). */
void log_setup(const char *level, const char *format);

/* Logs msg with key/value pairs, ending with NULL. */
void log_event(enum log_level lv, const char *subsys, const char *msg, ...)
	__attribute__((sentinel));

/* What a masked BSN-like number reads as: neither digits nor hex. */
#define LOG_BSN_MARKER "[BSN?]"

/*
 * The one BSN masking of schakel, for text from outside (a request path, a
 * parser's message quoting a value): copies in to out (n bytes, not the
 * same buffer) with every number of 8 or 9 digits that stands on its own
 * replaced by LOG_BSN_MARKER.  Digits inside an id (a run of 16 or more hex
 * digits and '-' with a letter: signal ids, digests, message ids) are
 * kept.  Never for the broker's own ids, counts or sizes: mask the outside
 * value before it is put in a message.
 */
void log_mask_bsn(const char *in, char *out, size_t n);

/* Copies outside text into out (n bytes) with controls replaced, BSNs masked. */
void log_clean(const char *in, char *out, size_t n);

/* Copies text into out (n bytes; may be in) with controls replaced only. */
void log_clean_controls(const char *in, char *out, size_t n);

#endif
