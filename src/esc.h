/*
 * esc.h - text from outside made safe to show: control characters and
 * bytes that are not UTF-8 written as visible escapes, for terminal
 * tables, the daemon's log lines and XML (which cannot carry most C0
 * characters at all).
 */
#ifndef SCHAKEL_ESC_H
#define SCHAKEL_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Whether s (NUL-terminated) has anything esc_text() would change: a C0
 * control character (U+0000-U+001F, so also TAB, LF and CR), DEL, a C1
 * control character (U+0080-U+009F) or a byte that is not part of valid
 * UTF-8.
 */
bool esc_needed(const char *s);

/*
 * Copies s into out (n bytes, always NUL-terminated, cut short at a whole
 * escape when it does not fit) with each C0 character, DEL and byte that is
 * not valid UTF-8 written as \xNN and each C1 character as \u00NN (lower
 * case hex).  Everything else, a backslash too, is copied as it is.
 * Returns out.
 */
char *esc_text(const char *s, char *out, size_t n);

/* esc_text() into a malloc'd string the caller frees; NULL when out of memory. */
char *esc_dup(const char *s);

/*
 * Writes the printf-formatted text to f escaped as by esc_text(), then a
 * newline: one line of a table or message that text from outside can
 * neither move the cursor in nor break into two.  Returns 0, or -1 when
 * out of memory or f fails.
 */
int esc_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
