/*
 * huisvesting.c - the housing-register adapter (CSV).
 *
 * Reads the huisvesting CSV of sources.md: UTF-8 with an optional byte-order
 * mark, ';' as separator, RFC 4180 quoting, and a fixed header on line 1.
 * Each data row becomes one ADAPTER_DWELLING record; woonplaats is dropped.
 *
 * Parsing is done by libcsv, which is push-style: every chunk handed to
 * feed() goes straight into csv_parse(), and the field and row callbacks
 * below collect one row at a time.  What is held in memory is one row (at
 * most HV_NCOLS fields of at most max_field_bytes each) and libcsv's field
 * buffer, which is kept bounded as described at hv_check_bufsize().
 *
 * Line numbers: libcsv does not count lines, so feed() hands it the input
 * cut after every line break (CR, LF or CR LF counts as one).  Before each
 * piece we know the current line, and a row starts at the first byte that
 * is not a line break while no row is open; that is how a record whose
 * quoted fields span several lines is placed on the line where it starts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "adapter.h"
#include "bsnlike.h"

#define HV_NCOLS	12		/* columns of the header */
#define HV_BLK		256		/* libcsv's buffer grows by this much */
#define HV_SLICE	4096		/* most bytes handed to csv_parse at once */
#define HV_DEFAULT_MAX_FIELD	65536	/* when the host sets no limit */
#define HV_BOM_DONE	4		/* bom_seen: the BOM question is settled */

static const char *const hv_header[HV_NCOLS] = {
	"gemeentecode", "nummeraanduiding_id", "postcode", "huisnummer",
	"huisletter", "huisnummertoevoeging", "woonplaats", "oppervlakte_m2",
	"gebruiksdoel", "max_bewoners", "vergunning_nummer",
	"vergunning_geldig_tot",
};

/* Column indexes, in header order. */
enum hv_col {
	HV_GEMEENTECODE, HV_NUMMERAANDUIDING, HV_POSTCODE, HV_HUISNUMMER,
	HV_HUISLETTER, HV_TOEVOEGING, HV_WOONPLAATS, HV_OPPERVLAKTE,
	HV_GEBRUIKSDOEL, HV_MAX_BEWONERS, HV_VERGUNNING, HV_GELDIG_TOT,
};

static const char hv_bom[3] = { '\xef', '\xbb', '\xbf' };

struct hv_stream {
	struct adapter_host host;	/* a copy of what open() was given */
	struct csv_parser csv;
	size_t max_field;
	int rc;				/* sticky adapter_rc */
	int finished;
	unsigned bom_seen;		/* BOM bytes matched, or HV_BOM_DONE */
	int header_done;

	unsigned long line;		/* line of the next byte fed */
	unsigned long row_line;		/* line the open row started on */
	int row_open;
	unsigned char last;		/* last byte fed (for CR LF) */

	/* The fields of the row being read, one after the other in row. */
	char *row;
	size_t row_len, row_cap;
	size_t off[HV_NCOLS];
	size_t len[HV_NCOLS];
	size_t nfields;			/* all fields seen, also past HV_NCOLS */

	char err[256];
};

/*
 * Sets the stream's result to ADAPTER_REFUSED with a printf-style reason.
 * Only the first refusal counts.
 */
__attribute__((format(printf, 2, 3)))
static void hv_refuse(struct hv_stream *st, const char *fmt, ...)
{
	va_list ap;

	if (st->rc != ADAPTER_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	st->rc = ADAPTER_REFUSED;
}

/*
 * Out of memory (here or in libcsv) while reading the row that started on
 * row_line: tells the host, which fails the whole file (never a rejection
 * of the row: the row is not at fault), and stops with ADAPTER_NOMEM.
 */
static void hv_nomem(struct hv_stream *st)
{
	char place[32];

	if (st->rc != ADAPTER_OK)
		return;
	st->rc = ADAPTER_NOMEM;
	if (st->host.nomem != NULL) {
		snprintf(place, sizeof(place), "line %lu", st->row_line);
		st->host.nomem(st->host.ctx, place);
	}
}

/*
 * Copies s (len bytes) into dst (size n) for use in a message: printable
 * ASCII is kept, anything else becomes '?', and long text is cut with "...".
 */
static void hv_printable(char *dst, size_t n, const char *s, size_t len)
{
	size_t i, out = 0;

	for (i = 0; i < len && out + 4 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[out++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < len) {
		memcpy(dst + out, "...", 3);
		out += 3;
	}
	dst[out] = '\0';
}

/*
 * Returns 1 when s (len bytes) is well-formed UTF-8 without NUL bytes
 * (no overlong forms, no surrogates, nothing above U+10FFFF), else 0.
 */
static int hv_utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned long cp;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

/* libcsv's space test: nothing is a space, so no byte is ever trimmed. */
static int hv_no_space(unsigned char c)
{
	(void)c;
	return 0;
}

/* Returns 1 for the bytes that end a line (and, unquoted, a row). */
static int hv_is_break(unsigned char c)
{
	return c == '\r' || c == '\n';
}

/*
 * Returns field i of the current row, or NULL when it is empty (sources.md:
 * an empty field means "unknown" or "none"; a quoted "" is empty as well).
 */
static const char *hv_field(const struct hv_stream *st, size_t i)
{
	if (st->len[i] == 0)
		return NULL;
	return st->row + st->off[i];
}

/*
 * Appends one field to the row buffer.  Returns 0, or -1 when out of
 * memory.  The buffer never holds more than HV_NCOLS * (max_field + 1).
 */
static int hv_store_field(struct hv_stream *st, const char *s, size_t len)
{
	size_t need = st->row_len + len + 1;

	if (need > st->row_cap) {
		size_t cap = st->row_cap ? st->row_cap : 256;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(st->row, cap);
		if (p == NULL)
			return -1;
		st->row = p;
		st->row_cap = cap;
	}
	st->off[st->nfields] = st->row_len;
	st->len[st->nfields] = len;
	if (len > 0)
		memcpy(st->row + st->row_len, s, len);
	st->row[st->row_len + len] = '\0';
	st->row_len = need;
	return 0;
}

/* libcsv's field callback: keeps the field (s, len) for the row's end. */
static void hv_on_field(void *s, size_t len, void *data)
{
	struct hv_stream *st = data;

	if (st->rc != ADAPTER_OK)
		return;
	if (len > st->max_field) {
		hv_refuse(st, "line %lu: a field is longer than %zu bytes",
			  st->row_line, st->max_field);
		return;
	}
	if (st->nfields < HV_NCOLS && hv_store_field(st, s, len) < 0) {
		hv_nomem(st);
		return;
	}
	st->nfields++;
}

/* Refuses the file because of header column i (0-based). */
static void hv_refuse_header_col(struct hv_stream *st, size_t i)
{
	char found[48];

	if (i >= st->nfields) {
		hv_refuse(st, "line 1: header is not the huisvesting header: "
			  "column %zu is missing, expected \"%s\"",
			  i + 1, hv_header[i]);
		return;
	}
	hv_printable(found, sizeof(found), st->row + st->off[i], st->len[i]);
	bsnlike_mask(found);	/* a file without its header may start with a BSN */
	hv_refuse(st, "line 1: header is not the huisvesting header: "
		  "column %zu is \"%s\", expected \"%s\"",
		  i + 1, found, hv_header[i]);
}

/* Checks the first row against the header of sources.md. */
static void hv_check_header(struct hv_stream *st)
{
	size_t i;

	if (st->row_line != 1) {
		hv_refuse(st, "line 1: header is not the huisvesting header: "
			  "line 1 is empty, expected \"%s;...\"", hv_header[0]);
		return;
	}
	for (i = 0; i < HV_NCOLS; i++) {
		if (i >= st->nfields || strlen(hv_header[i]) != st->len[i] ||
		    memcmp(hv_header[i], st->row + st->off[i], st->len[i]) != 0) {
			hv_refuse_header_col(st, i);
			return;
		}
	}
	if (st->nfields > HV_NCOLS) {
		hv_refuse(st, "line 1: header is not the huisvesting header: "
			  "%zu columns, expected %d", st->nfields, HV_NCOLS);
		return;
	}
	st->header_done = 1;
}

/*
 * Turns a complete data row into a record, or rejects it.  place is
 * "line N".
 */
static void hv_emit_row(struct hv_stream *st, const char *place)
{
	struct adapter_record rec;
	char reason[96];
	size_t i;

	if (st->nfields != HV_NCOLS) {
		snprintf(reason, sizeof(reason), "%zu field%s, expected %d",
			 st->nfields, st->nfields == 1 ? "" : "s", HV_NCOLS);
		st->host.reject(st->host.ctx, place, reason);
		return;
	}
	for (i = 0; i < HV_NCOLS; i++) {
		if (!hv_utf8_ok((const unsigned char *)st->row + st->off[i],
				st->len[i])) {
			snprintf(reason, sizeof(reason),
				 "column %s is not valid UTF-8", hv_header[i]);
			st->host.reject(st->host.ctx, place, reason);
			return;
		}
	}
	memset(&rec, 0, sizeof(rec));
	rec.kind = ADAPTER_DWELLING;
	rec.place = place;
	rec.address.gemeentecode = hv_field(st, HV_GEMEENTECODE);
	rec.address.nummeraanduiding_id = hv_field(st, HV_NUMMERAANDUIDING);
	rec.address.postcode = hv_field(st, HV_POSTCODE);
	rec.address.huisnummer = hv_field(st, HV_HUISNUMMER);
	rec.address.huisletter = hv_field(st, HV_HUISLETTER);
	rec.address.huisnummertoevoeging = hv_field(st, HV_TOEVOEGING);
	rec.u.dwelling.oppervlakte_m2 = hv_field(st, HV_OPPERVLAKTE);
	rec.u.dwelling.gebruiksdoel = hv_field(st, HV_GEBRUIKSDOEL);
	rec.u.dwelling.max_bewoners = hv_field(st, HV_MAX_BEWONERS);
	rec.u.dwelling.vergunning_nummer = hv_field(st, HV_VERGUNNING);
	rec.u.dwelling.vergunning_geldig_tot = hv_field(st, HV_GELDIG_TOT);
	if (st->host.record(st->host.ctx, &rec) < 0)
		st->rc = ADAPTER_ABORT;
}

/* libcsv's row callback: the header check or one record. */
static void hv_on_row(int c, void *data)
{
	struct hv_stream *st = data;
	char place[32];

	(void)c;
	st->row_open = 0;
	if (st->rc == ADAPTER_OK) {
		if (!st->header_done) {
			hv_check_header(st);
		} else {
			snprintf(place, sizeof(place), "line %lu", st->row_line);
			hv_emit_row(st, place);
		}
	}
	st->nfields = 0;
	st->row_len = 0;
}

/*
 * libcsv keeps the field being read in a buffer that grows by HV_BLK bytes
 * whenever it is full, and has no limit of its own (its realloc hook gets
 * no context, so it cannot know this stream's limit).  We bound it from the
 * outside instead: csv_parse() never gets more than HV_SLICE bytes at once,
 * and after each call we look at the buffer size.  The buffer only grows
 * when the field in it fills it, so a buffer larger than max_field + HV_BLK
 * + 1 means a field longer than max_field, and the file is refused.  The
 * buffer therefore never exceeds max_field + 2 * HV_BLK + HV_SLICE + 1.
 * A field that ends within a slice is measured exactly in hv_on_field().
 */
static void hv_check_bufsize(struct hv_stream *st)
{
	if (csv_get_buffer_size(&st->csv) > st->max_field + HV_BLK + 1)
		hv_refuse(st, "line %lu: a field is longer than %zu bytes",
			  st->row_line, st->max_field);
}

/* Converts a libcsv error into the stream's result. */
static void hv_csv_error(struct hv_stream *st)
{
	switch (csv_error(&st->csv)) {
	case CSV_ENOMEM:
		hv_nomem(st);
		break;
	case CSV_ETOOBIG:
		hv_refuse(st, "line %lu: a field is longer than %zu bytes",
			  st->row_line, st->max_field);
		break;
	default:
		hv_refuse(st, "line %lu: malformed CSV: a quote (\") in an "
			  "unquoted field, or text after a closing quote",
			  st->line);
		break;
	}
}

/*
 * Parses s (n bytes), which holds no line break except maybe as its last
 * byte, and moves the line counter past it.
 */
static void hv_parse(struct hv_stream *st, const char *s, size_t n)
{
	unsigned char end, before;
	size_t parsed;

	if (n == 0)
		return;
	if (!st->row_open && !hv_is_break((unsigned char)s[0])) {
		st->row_open = 1;
		st->row_line = st->line;
	}
	parsed = csv_parse(&st->csv, s, n, hv_on_field, hv_on_row, st);
	/* First: a field too long is found before a later syntax error in
	 * the same piece, as it would be when fed in smaller pieces. */
	if (st->rc == ADAPTER_OK)
		hv_check_bufsize(st);
	if (parsed != n)
		hv_csv_error(st);
	end = (unsigned char)s[n - 1];
	before = n > 1 ? (unsigned char)s[n - 2] : st->last;
	if (end == '\r' || (end == '\n' && before != '\r'))
		st->line++;
	st->last = end;
}

/*
 * Takes the bytes of a byte-order mark at the very start of the input.
 * Returns how many bytes of buf it took.  Bytes that looked like the start
 * of a BOM but were not are replayed to the parser.
 */
static size_t hv_take_bom(struct hv_stream *st, const char *buf, size_t len)
{
	size_t i = 0;

	while (st->bom_seen < sizeof(hv_bom) && i < len) {
		if (buf[i] != hv_bom[st->bom_seen]) {
			unsigned held = st->bom_seen;

			st->bom_seen = HV_BOM_DONE;
			hv_parse(st, hv_bom, held);
			return i;
		}
		st->bom_seen++;
		i++;
	}
	if (st->bom_seen == sizeof(hv_bom))
		st->bom_seen = HV_BOM_DONE;
	return i;
}

/* Returns the length of the next piece: up to a line break, at most HV_SLICE. */
static size_t hv_piece(const char *buf, size_t len)
{
	size_t i, max = len < HV_SLICE ? len : HV_SLICE;

	for (i = 0; i < max; i++)
		if (hv_is_break((unsigned char)buf[i]))
			return i + 1;
	return max;
}

/*
 * Starts a stream.  Returns it (freed by hv_close), or NULL when out of
 * memory.
 */
static void *hv_open(const struct adapter_host *host)
{
	struct hv_stream *st;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->host = *host;
	st->max_field = host->max_field_bytes ? host->max_field_bytes
					      : HV_DEFAULT_MAX_FIELD;
	st->line = 1;
	/*
	 * Strict: a stray quote is an error, and so (STRICT_FINI) is a quote
	 * still open at the end.  No APPEND_NULL: hv_store_field() copies
	 * each field with its own NUL.  No EMPTY_IS_NULL: an empty field,
	 * quoted or not, is absent, which hv_field() decides by length.
	 */
	if (csv_init(&st->csv, CSV_STRICT | CSV_STRICT_FINI) != 0)
		goto out_free_stream;
	csv_set_delim(&st->csv, ';');
	csv_set_space_func(&st->csv, hv_no_space);
	csv_set_blk_size(&st->csv, HV_BLK);
	return st;

out_free_stream:
	free(st);
	return NULL;
}

/* Parses the next len bytes of the file.  Returns an adapter_rc. */
static int hv_feed(void *stream, const char *buf, size_t len)
{
	struct hv_stream *st = stream;
	size_t n;

	if (st->rc != ADAPTER_OK)
		return st->rc;
	if (st->finished) {
		hv_refuse(st, "input after the end of the file");
		return st->rc;
	}
	n = hv_take_bom(st, buf, len);
	buf += n;
	len -= n;
	while (len > 0 && st->rc == ADAPTER_OK) {
		n = hv_piece(buf, len);
		hv_parse(st, buf, n);
		buf += n;
		len -= n;
	}
	return st->rc;
}

/* Ends the file: flushes a last row without line break.  Returns an adapter_rc. */
static int hv_finish(void *stream)
{
	struct hv_stream *st = stream;

	if (st->rc != ADAPTER_OK || st->finished)
		return st->rc;
	if (st->bom_seen != HV_BOM_DONE) {
		unsigned held = st->bom_seen;

		st->bom_seen = HV_BOM_DONE;
		hv_parse(st, hv_bom, held);
	}
	if (st->rc == ADAPTER_OK &&
	    csv_fini(&st->csv, hv_on_field, hv_on_row, st) != 0)
		hv_refuse(st, "line %lu: quoted field is not closed at the "
			  "end of the file", st->row_line);
	if (st->rc == ADAPTER_OK && !st->header_done)
		hv_refuse(st, "line 1: header is missing, expected \"%s;...\"",
			  hv_header[0]);
	st->finished = 1;
	return st->rc;
}

/* Why the file was refused; the text lives until hv_close. */
static const char *hv_error(void *stream)
{
	struct hv_stream *st = stream;

	if (st->rc == ADAPTER_OK)
		return "";
	if (st->rc == ADAPTER_NOMEM)
		return "out of memory";
	if (st->rc == ADAPTER_ABORT)
		return "stopped by the host";
	return st->err;
}

/* Frees a stream made by hv_open; accepts NULL. */
static void hv_close(void *stream)
{
	struct hv_stream *st = stream;

	if (st == NULL)
		return;
	csv_free(&st->csv);
	free(st->row);
	free(st);
}

__attribute__((visibility("default")))
const struct adapter schakel_adapter = {
	.abi_version = ADAPTER_ABI_VERSION,
	.name = "huisvesting",
	.version = "1.0",
	.description = "housing register (CSV with ';', header on line 1)",
	.source_schema = NULL,
	.open = hv_open,
	.feed = hv_feed,
	.finish = hv_finish,
	.error = hv_error,
	.close = hv_close,
};
