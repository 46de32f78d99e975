/*
 * brp_scan.c - the start tags of the input counted before libxml2 sees
 * them (see struct brp_scan in brp.h).
 *
 * libxml2 2.9 checks each attribute of a start tag against all before it
 * (xmlParseStartTag2), and the push parser holds the whole tag before it
 * parses it: 200,000 attributes on one element took 12 s, 67 MB.  This
 * scanner follows just enough of XML to know when it is inside a start
 * tag (not in a comment, CDATA section, processing instruction, end tag or
 * declaration, and not inside a quoted attribute value) and counts the '='
 * signs there: one per attribute, namespace declarations included, and
 * the length of each run of name or of quoted value in the tag (at most
 * max_field_bytes, so the tag libxml2 holds is bounded too).  It does not
 * check well-formedness; libxml2 does that after it.
 */
#include <stdio.h>

#include "brp.h"

enum { S_TEXT, S_LT, S_TAG, S_QUOTE, S_END, S_PI, S_BANG, S_COMMENT, S_CDATA, S_DECL };

/* The state after byte c of the markup other than a start tag. */
static int other_markup(const struct brp_scan *s, unsigned char c)
{
	switch (s->state) {
	case S_END:
	case S_DECL:
		return c == '>' ? S_TEXT : s->state;
	case S_PI:
		return c == '>' && s->prev[0] == '?' ? S_TEXT : S_PI;
	case S_BANG:
		return c == '-' ? S_COMMENT : c == '[' ? S_CDATA : S_DECL;
	case S_COMMENT:
		return c == '>' && s->prev[0] == '-' && s->prev[1] == '-' ? S_TEXT : S_COMMENT;
	case S_CDATA:
		return c == '>' && s->prev[0] == ']' && s->prev[1] == ']' ? S_TEXT : S_CDATA;
	default:
		return c == '<' ? S_LT : S_TEXT;
	}
}

/* The state after byte c at the start of markup ('<' just seen). */
static int markup_start(struct brp_scan *s, unsigned char c)
{
	if (c == '!' || c == '?' || c == '/')
		return c == '!' ? S_BANG : c == '?' ? S_PI : S_END;
	s->attrs = 0;
	s->tag_bytes = 2;
	return S_TAG;
}

/*
 * Follows byte c inside a start tag (S_TAG, S_QUOTE).  Returns 0, or -1
 * with why: a run of name or of value over max_tag bytes, or an '='
 * (outside quotes) beyond max_attrs.
 */
static int in_tag(struct brp_scan *s, unsigned char c, size_t max_attrs, size_t max_tag,
		  char *why, size_t n)
{
	if (max_tag > 0 && ++s->tag_bytes > max_tag) {
		snprintf(why, n, "line %lu: a name or attribute value longer than %zu bytes in a "
			 "start tag", s->line, max_tag);
		return -1;
	}
	if (s->state == S_QUOTE) {
		if (c == s->quote) {
			s->state = S_TAG;
			s->tag_bytes = 0;
		}
	} else if (c == '"' || c == '\'') {
		s->quote = c;
		s->state = S_QUOTE;
		s->tag_bytes = 0;
	} else if (c == '>') {
		s->state = S_TEXT;
	} else if (c == '=' && max_attrs > 0 && ++s->attrs > max_attrs) {
		snprintf(why, n, "line %lu: more than %zu attributes on one element "
			 "([ingest] max_attributes)", s->line, max_attrs);
		return -1;
	}
	return 0;
}

int brp_scan(struct brp_scan *s, const char *buf, size_t len, size_t max_attrs,
	     size_t max_tag, char *why, size_t n)
{
	if (s->line == 0)
		s->line = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		s->line += c == '\n';
		if (s->state == S_TAG || s->state == S_QUOTE) {
			if (in_tag(s, c, max_attrs, max_tag, why, n) != 0)
				return -1;
		} else if (s->state == S_LT) {
			s->state = markup_start(s, c);
		} else {
			s->state = other_markup(s, c);
		}
		s->prev[1] = s->prev[0];
		s->prev[0] = c;
	}
	return 0;
}
