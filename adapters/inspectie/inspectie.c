/*
 * inspectie.c - the inspectorate-findings adapter (JSON).
 *
 * Input is one JSON object: {"bevindingen": [ {finding}, ... ],
 * "volgende": "cursor" or null}.  Each finding becomes one ADAPTER_FINDING
 * record.
 *
 * Why a framer of our own: jansson, the JSON library of the project, has no
 * streaming parser; json_load*() builds the whole document in memory, and a
 * page of findings can be large.  So this file scans the top-level object
 * byte by byte as the chunks arrive, tracking strings, escapes and nesting,
 * and cuts out the bytes of one value at a time: each element of
 * "bevindingen", and the value of every other top-level member.  Each cut-out
 * value (at most max_field_bytes long) is then parsed on its own with
 * json_loadb(), which checks everything the framer does not (numbers,
 * literals, colons and commas inside the value, escapes, UTF-8).  Memory is
 * one value, a bracket stack of at most max_depth entries and the set of
 * top-level keys (at most IJ_MAX_KEYS): it does not grow with the file.
 *
 * The framer itself checks the structure around the values: a top-level
 * object, '"' keys, ':' and ',' in their places, "bevindingen" being an
 * array, brackets that match, the nesting limit, nothing after the end.
 * Any such error refuses the whole file and names line and column.
 * Errors inside one finding that leave the file well-formed (a wrong type,
 * a missing field, invalid UTF-8, a duplicate key, a number out of range)
 * reject that finding only.
 *
 * Out of memory is neither: it goes to host->nomem() and the file fails
 * (ADAPTER_NOMEM).  jansson 2.14 does not report every allocation it
 * loses: lex_save() ignores a string buffer that cannot grow, so a string
 * or number silently loses one character ("1783200000000010" read as
 * "178320000000010"); json_integer(), json_object() or a token's string
 * that cannot be allocated end json_loadb() with NULL and no error set;
 * and a token's string buffer that cannot be allocated is reported as the
 * syntax error "invalid token".  None of that can be told from the result,
 * so while a stream is open jansson allocates through ij_malloc(), which
 * counts the allocations that failed on its thread, and ij_parse() treats
 * any failure during its json_loadb() as out of memory, whatever jansson
 * made of it.  (The hook only watches: it allocates exactly as before.)
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapter.h"
#include "bsnlike.h"

#define IJ_DEFAULT_MAX_FIELD	65536	/* when the host sets no limit */
#define IJ_DEFAULT_MAX_DEPTH	64
#define IJ_MAX_KEYS		64	/* distinct top-level members */

enum ij_state {
	IJ_START,		/* before the top-level '{' */
	IJ_KEY_OR_CLOSE,	/* after '{': a key or '}' */
	IJ_KEY,			/* after ',': a key */
	IJ_IN_KEY,		/* inside a top-level key */
	IJ_COLON,		/* after a key */
	IJ_VALUE,		/* after ':' */
	IJ_MEMBER_END,		/* after a member: ',' or '}' */
	IJ_ELEM_OR_CLOSE,	/* after "bevindingen": [ */
	IJ_ELEM,		/* after ',' in bevindingen */
	IJ_ELEM_END,		/* after an element: ',' or ']' */
	IJ_CAPTURE,		/* inside a value being cut out */
	IJ_END,			/* after the top-level '}' */
};

enum ij_key {
	IJ_KEY_OTHER,
	IJ_KEY_BEVINDINGEN,
	IJ_KEY_VOLGENDE,
};

/* What ij_step() did with a byte. */
enum ij_step {
	IJ_TAKEN,		/* the byte was used */
	IJ_AGAIN,		/* the state changed; look at the byte again */
};

struct ij_stream {
	struct adapter_host host;	/* a copy of what open() was given */
	size_t max_field;
	size_t max_depth;
	int rc;				/* sticky adapter_rc */
	int finished;
	enum ij_state state;
	unsigned long line, col;	/* position of the current byte */
	unsigned bom;			/* bytes of a UTF-8 byte-order mark read; 3: done */

	/* The value (or top-level key) being cut out. */
	char *buf;
	size_t len, cap;
	unsigned long start_line, start_col;
	size_t depth;			/* brackets open inside the value */
	unsigned char *stack;		/* their kinds, '{' or '[' */
	size_t stack_cap;
	int in_string, escape, scalar;
	size_t base_depth;		/* nesting around the value */

	enum ij_key key;		/* the member being read */
	json_t *keys;			/* top-level keys seen (a set) */
	int have_bevindingen;
	size_t index;			/* of the next finding */

	char *volgende;			/* the cursor; NULL when null or absent */
	int have_volgende;

	char err[256];
};

/* ------------------------------------------------ jansson's allocations */

/*
 * Failed allocations on this thread.  initial-exec: the variable lives in
 * the static TLS block every thread gets when it is made.  A dlopen()ed
 * module's thread-local variables are otherwise allocated on a thread's
 * first use of them, and when that malloc() fails glibc aborts the process
 * ("cannot allocate memory for thread-local data"), which the allocation
 * torture (make torture) found on the ingest's parse thread.
 */
static _Thread_local unsigned long ij_alloc_failures
	__attribute__((tls_model("initial-exec")));
static pthread_mutex_t ij_hook_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ij_hook_users;		/* open streams */
static json_malloc_t ij_prev_malloc;	/* what jansson used before */
static json_free_t ij_prev_free;

static void *ij_malloc(size_t n)
{
	void *p = ij_prev_malloc(n);

	if (p == NULL)
		ij_alloc_failures++;
	return p;
}

static void ij_free(void *p)
{
	ij_prev_free(p);
}

/*
 * Puts ij_malloc() in place for the first open stream and takes it away
 * with the last, so that jansson never calls into this module once it may
 * be unloaded.  Blocks allocated before or after are freed the same way
 * (ij_free() is the free of before), so the switch is harmless.
 */
static void ij_hook(int on)
{
	pthread_mutex_lock(&ij_hook_lock);
	if (on && ij_hook_users++ == 0) {
		json_get_alloc_funcs(&ij_prev_malloc, &ij_prev_free);
		json_set_alloc_funcs(ij_malloc, ij_free);
	} else if (!on && --ij_hook_users == 0) {
		json_set_alloc_funcs(ij_prev_malloc, ij_prev_free);
	}
	pthread_mutex_unlock(&ij_hook_lock);
}

/* ------------------------------------------------------------ the stream */

/*
 * Out of memory while reading the value at place ("bevindingen[3] (line
 * 30)", "line 2"; NULL: nowhere in particular): tells the host, which
 * fails the whole file, and stops with ADAPTER_NOMEM.  Never a rejection
 * or a refusal: the input is not at fault.
 */
static void ij_nomem(struct ij_stream *st, const char *place)
{
	if (st->rc != ADAPTER_OK)
		return;
	st->rc = ADAPTER_NOMEM;
	if (st->host.nomem != NULL)
		st->host.nomem(st->host.ctx, place);
}

/* ij_nomem() for the value that started at start_line. */
static void ij_nomem_value(struct ij_stream *st)
{
	char place[48];

	snprintf(place, sizeof(place), "line %lu", st->start_line);
	ij_nomem(st, place);
}

/*
 * Sets the stream's result to ADAPTER_REFUSED with a printf-style reason
 * that starts with the given position.  Only the first refusal counts.
 */
__attribute__((format(printf, 4, 5)))
static void ij_refuse_at(struct ij_stream *st, unsigned long line,
			 unsigned long col, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (st->rc != ADAPTER_OK)
		return;
	n = snprintf(st->err, sizeof(st->err), "line %lu, column %lu: ",
		     line, col);
	va_start(ap, fmt);
	vsnprintf(st->err + n, sizeof(st->err) - (size_t)n, fmt, ap);
	va_end(ap);
	bsnlike_mask(st->err + n);	/* jansson's text may quote a value */
	st->rc = ADAPTER_REFUSED;
}

#define ij_refuse(st, ...) ij_refuse_at((st), (st)->line, (st)->col, __VA_ARGS__)

/*
 * Copies jansson's error text into dst (size n) without its "near '...'"
 * part, which quotes input (it could be a BSN), and with anything not
 * printable ASCII replaced by '?'.
 */
static void ij_error_text(char *dst, size_t n, const json_error_t *err)
{
	const char *near = strstr(err->text, " near '");
	size_t len = near ? (size_t)(near - err->text) : strlen(err->text);
	size_t i;

	if (len >= n)
		len = n - 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)err->text[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[len] = '\0';
}

/* Returns 1 for JSON white space. */
static int ij_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Starts cutting out a value (or key) at the current byte. */
static void ij_capture_start(struct ij_stream *st, size_t base_depth)
{
	st->len = 0;
	st->depth = 0;
	st->in_string = 0;
	st->escape = 0;
	st->scalar = 0;
	st->base_depth = base_depth;
	st->start_line = st->line;
	st->start_col = st->col;
}

/* Appends byte c to the value.  Returns 0, or -1 (refused or no memory). */
static int ij_capture_add(struct ij_stream *st, unsigned char c)
{
	if (st->len + 1 > st->max_field) {
		if (st->state == IJ_CAPTURE && st->key == IJ_KEY_BEVINDINGEN)
			ij_refuse_at(st, st->start_line, st->start_col,
				     "bevindingen[%zu] is longer than %zu bytes",
				     st->index, st->max_field);
		else
			ij_refuse_at(st, st->start_line, st->start_col,
				     "a value is longer than %zu bytes",
				     st->max_field);
		return -1;
	}
	if (st->len + 1 > st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		char *p;

		if (cap > st->max_field + 1)
			cap = st->max_field + 1;
		p = realloc(st->buf, cap);
		if (p == NULL) {
			ij_nomem_value(st);
			return -1;
		}
		st->buf = p;
		st->cap = cap;
	}
	st->buf[st->len++] = (char)c;
	return 0;
}

/* Opens bracket c inside the value.  Returns 0, or -1 (refused, no memory). */
static int ij_push(struct ij_stream *st, unsigned char c)
{
	if (st->base_depth + st->depth + 1 > st->max_depth) {
		ij_refuse(st, "nesting deeper than %zu levels", st->max_depth);
		return -1;
	}
	if (st->depth == st->stack_cap) {
		size_t cap = st->stack_cap ? st->stack_cap * 2 : 16;
		unsigned char *p = realloc(st->stack, cap);

		if (p == NULL) {
			ij_nomem_value(st);
			return -1;
		}
		st->stack = p;
		st->stack_cap = cap;
	}
	st->stack[st->depth++] = c;
	return 0;
}

/* Closes bracket c.  Returns 0, or -1 when it does not match (refused). */
static int ij_pop(struct ij_stream *st, unsigned char c)
{
	unsigned char open = c == '}' ? '{' : '[';

	if (st->depth == 0 || st->stack[st->depth - 1] != open) {
		ij_refuse(st, "'%c' does not close an open '%c'", c, open);
		return -1;
	}
	st->depth--;
	return 0;
}

/*
 * Feeds one byte to the value being cut out.  Returns 1 when the value is
 * complete (*taken says whether c belongs to it: a number or literal ends at
 * the byte after it), 0 when it goes on, -1 on refusal or no memory.
 */
static int ij_capture_byte(struct ij_stream *st, unsigned char c, int *taken)
{
	*taken = 1;
	if (st->scalar) {
		if (ij_is_ws(c) || c == ',' || c == ']' || c == '}') {
			*taken = 0;
			return 1;
		}
		return ij_capture_add(st, c);
	}
	if (ij_capture_add(st, c) < 0)
		return -1;
	if (st->in_string) {
		if (st->escape)
			st->escape = 0;
		else if (c == '\\')
			st->escape = 1;
		else if (c == '"')
			st->in_string = 0;
		return !st->in_string && st->depth == 0;
	}
	if (st->len == 1 && c != '"' && c != '{' && c != '[') {
		st->scalar = 1;
		return 0;
	}
	switch (c) {
	case '"':
		st->in_string = 1;
		return 0;
	case '{':
	case '[':
		return ij_push(st, c);
	case '}':
	case ']':
		if (ij_pop(st, c) < 0)
			return -1;
		return st->depth == 0;
	default:
		return 0;
	}
}

/*
 * Refuses the file for a json_loadb() error in the value that started at
 * start_line/start_col (ij_parse() has already told out of memory apart).
 */
static void ij_refuse_json(struct ij_stream *st, const json_error_t *err)
{
	unsigned long line = st->start_line, col = st->start_col;
	char text[JSON_ERROR_TEXT_LENGTH];

	if (err->line > 1) {
		line += (unsigned long)err->line - 1;
		col = (unsigned long)err->column;
	} else if (err->line == 1 && err->column > 0) {
		col += (unsigned long)err->column - 1;
	}
	ij_error_text(text, sizeof(text), err);
	ij_refuse_at(st, line, col, "JSON syntax error: %s", text);
}

/*
 * Parses the cut-out value with jansson.  Returns the new reference (the
 * caller frees it), or NULL with err filled in and *nomem set when an
 * allocation failed on the way (see the top of this file): then err says
 * nothing that counts, and the value, had jansson returned one, might not
 * be the input's.
 */
static json_t *ij_parse(const struct ij_stream *st, json_error_t *err,
			int *nomem)
{
	unsigned long failures = ij_alloc_failures;
	json_t *v;

	memset(err, 0, sizeof(*err));	/* json_loadb() may set no code */
	v = json_loadb(st->buf, st->len,
		       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, err);
	*nomem = ij_alloc_failures != failures ||
		 (v == NULL && (json_error_code(err) == json_error_out_of_memory ||
				err->text[0] == '\0'));
	if (*nomem) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* The key is complete: checks it and notes which member follows. */
static void ij_key_done(struct ij_stream *st)
{
	json_error_t err;
	json_t *k;
	const char *s;
	int nomem;

	k = ij_parse(st, &err, &nomem);
	if (nomem) {
		ij_nomem_value(st);
		return;
	}
	if (k == NULL) {
		ij_refuse_json(st, &err);
		return;
	}
	s = json_string_value(k);
	if (json_object_get(st->keys, s) != NULL) {
		ij_refuse_at(st, st->start_line, st->start_col,
			     "duplicate key in the top-level object");
		goto out_put_key;
	}
	if (json_object_size(st->keys) >= IJ_MAX_KEYS) {
		ij_refuse_at(st, st->start_line, st->start_col,
			     "more than %d members in the top-level object",
			     IJ_MAX_KEYS);
		goto out_put_key;
	}
	if (json_object_set_new(st->keys, s, json_null()) < 0) {
		ij_nomem_value(st);
		goto out_put_key;
	}
	if (strcmp(s, "bevindingen") == 0)
		st->key = IJ_KEY_BEVINDINGEN;
	else if (strcmp(s, "volgende") == 0)
		st->key = IJ_KEY_VOLGENDE;
	else
		st->key = IJ_KEY_OTHER;
	st->state = IJ_COLON;
out_put_key:
	json_decref(k);
}

/*
 * A top-level member's value (other than bevindingen) is complete: checks
 * its syntax and keeps "volgende".  Other members are ignored.
 */
static void ij_member_done(struct ij_stream *st)
{
	json_error_t err;
	json_t *v;
	int nomem;

	v = ij_parse(st, &err, &nomem);
	if (nomem) {
		ij_nomem_value(st);
		return;
	}
	if (v == NULL) {
		ij_refuse_json(st, &err);
		return;
	}
	if (st->key == IJ_KEY_VOLGENDE) {
		if (json_is_string(v)) {
			free(st->volgende);
			st->volgende = strdup(json_string_value(v));
			if (st->volgende == NULL)
				ij_nomem_value(st);
		} else if (!json_is_null(v)) {
			ij_refuse_at(st, st->start_line, st->start_col,
				     "\"volgende\" is not a string or null");
		}
		st->have_volgende = 1;
	}
	json_decref(v);
	st->state = IJ_MEMBER_END;
}

/*
 * Reads member key of obj into *out as a string.  Returns 0 (with *out NULL
 * when the member is absent or null and not required), or -1 with reason
 * (size n) filled in.  name is the field's name for the reason.
 */
static int ij_string(json_t *obj, const char *key, const char *name,
		     int required, const char **out, char *reason, size_t n)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || (json_is_null(v) && !required)) {
		if (!required)
			return 0;
		snprintf(reason, n, "%s is missing", name);
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(reason, n, "%s is not a string", name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/*
 * Reads the required integer member key of obj as decimal text into dst
 * (size dn).  Returns 0, or -1 with reason filled in.
 */
static int ij_integer(json_t *obj, const char *key, const char *name,
		      char *dst, size_t dn, char *reason, size_t n)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		snprintf(reason, n, "%s is missing", name);
		return -1;
	}
	if (!json_is_integer(v)) {
		snprintf(reason, n, "%s is not an integer", name);
		return -1;
	}
	snprintf(dst, dn, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return 0;
}

/* Returns 1 when s has the form YYYY-MM-DD (digits and dashes), else 0. */
static int ij_date_syntax(const char *s)
{
	static const char form[] = "9999-99-99";
	size_t i;

	for (i = 0; form[i] != '\0'; i++) {
		if (form[i] == '9' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
			return 0;
	}
	return s[i] == '\0';
}

/* Text kept for one finding while it is being mapped. */
struct ij_finding {
	struct adapter_record rec;
	char huisnummer[32];
	char personen[32];
	const char **bsns;		/* malloc'd; the strings belong to the tree */
};

/* Maps the "adres" object.  Returns 0, or -1 with reason filled in. */
static int ij_map_adres(json_t *el, struct ij_finding *f, char *reason,
			size_t n)
{
	struct adapter_address *a = &f->rec.address;
	json_t *adres = json_object_get(el, "adres");

	if (adres == NULL) {
		snprintf(reason, n, "adres is missing");
		return -1;
	}
	if (!json_is_object(adres)) {
		snprintf(reason, n, "adres is not an object");
		return -1;
	}
	if (ij_string(adres, "gemeentecode", "adres.gemeentecode", 1,
		      &a->gemeentecode, reason, n) ||
	    ij_string(adres, "postcode", "adres.postcode", 1, &a->postcode,
		      reason, n) ||
	    ij_integer(adres, "huisnummer", "adres.huisnummer", f->huisnummer,
		       sizeof(f->huisnummer), reason, n) ||
	    ij_string(adres, "huisletter", "adres.huisletter", 0,
		      &a->huisletter, reason, n) ||
	    ij_string(adres, "huisnummertoevoeging",
		      "adres.huisnummertoevoeging", 0,
		      &a->huisnummertoevoeging, reason, n) ||
	    ij_string(adres, "nummeraanduiding_id", "adres.nummeraanduiding_id",
		      0, &a->nummeraanduiding_id, reason, n))
		return -1;
	a->huisnummer = f->huisnummer;
	return 0;
}

/* Maps werkgever.kvk.  Returns 0, or -1 with reason filled in. */
static int ij_map_werkgever(json_t *el, struct ij_finding *f, char *reason,
			    size_t n)
{
	json_t *w = json_object_get(el, "werkgever");

	if (w == NULL || json_is_null(w))
		return 0;
	if (!json_is_object(w)) {
		snprintf(reason, n, "werkgever is not an object");
		return -1;
	}
	return ij_string(w, "kvk", "werkgever.kvk", 0, &f->rec.u.finding.kvk,
			 reason, n);
}

/*
 * Maps "personen" (after aangetroffen_personen) into f->bsns, which the
 * caller frees.  Returns 0, -1 with reason filled in, or -2 out of memory.
 */
static int ij_map_personen(json_t *el, struct ij_finding *f, char *reason,
			   size_t n)
{
	json_t *p = json_object_get(el, "personen");
	json_t *aangetroffen = json_object_get(el, "aangetroffen_personen");
	char name[48];
	size_t i, count;

	if (p == NULL || json_is_null(p))
		return 0;
	if (!json_is_array(p)) {
		snprintf(reason, n, "personen is not an array");
		return -1;
	}
	count = json_array_size(p);
	if ((json_int_t)count > json_integer_value(aangetroffen)) {
		snprintf(reason, n, "personen has %zu entries, more than "
			 "aangetroffen_personen (%" JSON_INTEGER_FORMAT ")",
			 count, json_integer_value(aangetroffen));
		return -1;
	}
	if (count == 0)
		return 0;
	f->bsns = calloc(count, sizeof(*f->bsns));
	if (f->bsns == NULL)
		return -2;
	for (i = 0; i < count; i++) {
		json_t *person = json_array_get(p, i);

		snprintf(name, sizeof(name), "personen[%zu].bsn", i);
		if (!json_is_object(person)) {
			snprintf(reason, n, "personen[%zu] is not an object", i);
			return -1;
		}
		if (ij_string(person, "bsn", name, 1, &f->bsns[i], reason, n))
			return -1;
	}
	f->rec.u.finding.bsns = f->bsns;
	f->rec.u.finding.nbsn = count;
	return 0;
}

/*
 * Maps one parsed finding into f.  Returns 0, -1 with reason filled in, or
 * -2 when out of memory.  f->bsns is set even on failure; the caller frees.
 */
static int ij_map(json_t *el, struct ij_finding *f, char *reason, size_t n)
{
	struct adapter_finding *fi = &f->rec.u.finding;
	json_t *aangetroffen;

	if (!json_is_object(el)) {
		snprintf(reason, n, "finding is not an object");
		return -1;
	}
	if (ij_string(el, "id", "id", 1, &fi->id, reason, n) ||
	    ij_string(el, "datum", "datum", 1, &fi->datum, reason, n) ||
	    ij_string(el, "soort", "soort", 1, &fi->soort, reason, n) ||
	    ij_map_werkgever(el, f, reason, n) ||
	    ij_map_adres(el, f, reason, n) ||
	    ij_integer(el, "aangetroffen_personen", "aangetroffen_personen",
		       f->personen, sizeof(f->personen), reason, n))
		return -1;
	if (!ij_date_syntax(fi->datum)) {
		snprintf(reason, n, "datum is not a date (YYYY-MM-DD)");
		return -1;
	}
	aangetroffen = json_object_get(el, "aangetroffen_personen");
	if (json_integer_value(aangetroffen) < 0) {
		snprintf(reason, n, "aangetroffen_personen is negative");
		return -1;
	}
	fi->aangetroffen_personen = f->personen;
	return ij_map_personen(el, f, reason, n);
}

/*
 * Turns a json_loadb() error in a finding into a reject (for faults that
 * leave the file well-formed) or a refusal of the file.
 */
static void ij_finding_error(struct ij_stream *st, const char *place,
			     const json_error_t *err)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	char reason[JSON_ERROR_TEXT_LENGTH + 64];

	ij_error_text(text, sizeof(text), err);
	bsnlike_mask(text);	/* it may quote a value: never a BSN */
	switch (json_error_code(err)) {
	case json_error_invalid_utf8:
		snprintf(reason, sizeof(reason), "not valid UTF-8 (%s)", text);
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		snprintf(reason, sizeof(reason), "a string contains \\u0000");
		break;
	case json_error_duplicate_key:
		snprintf(reason, sizeof(reason),
			 "a key appears twice in one object");
		break;
	case json_error_numeric_overflow:
		snprintf(reason, sizeof(reason), "a number is out of range (%s)",
			 text);
		break;
	default:
		ij_refuse_json(st, err);
		return;
	}
	st->host.reject(st->host.ctx, place, reason);
}

/* An element of bevindingen is complete: parses, maps and hands it over. */
static void ij_finding_done(struct ij_stream *st)
{
	struct ij_finding f;
	json_error_t err;
	char place[64], reason[160];
	json_t *el;
	int rc, nomem;

	snprintf(place, sizeof(place), "bevindingen[%zu] (line %lu)",
		 st->index++, st->start_line);
	st->state = IJ_ELEM_END;
	el = ij_parse(st, &err, &nomem);
	if (nomem) {
		ij_nomem(st, place);
		return;
	}
	if (el == NULL) {
		ij_finding_error(st, place, &err);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.rec.kind = ADAPTER_FINDING;
	f.rec.place = place;
	rc = ij_map(el, &f, reason, sizeof(reason));
	if (rc == -2)
		ij_nomem(st, place);
	else if (rc < 0)
		st->host.reject(st->host.ctx, place, reason);
	else if (st->host.record(st->host.ctx, &f.rec) < 0)
		st->rc = ADAPTER_ABORT;
	free(f.bsns);
	json_decref(el);
}

/* The value being cut out is complete. */
static void ij_value_done(struct ij_stream *st)
{
	if (st->key == IJ_KEY_BEVINDINGEN)
		ij_finding_done(st);
	else
		ij_member_done(st);
}

/* Inside a value: passes c on.  Returns an ij_step. */
static enum ij_step ij_step_capture(struct ij_stream *st, unsigned char c)
{
	int taken, r;

	r = ij_capture_byte(st, c, &taken);
	if (r == 1) {
		ij_value_done(st);
		return taken ? IJ_TAKEN : IJ_AGAIN;
	}
	return IJ_TAKEN;
}

/* Inside a top-level key. */
static enum ij_step ij_step_key(struct ij_stream *st, unsigned char c)
{
	int taken;

	if (ij_capture_byte(st, c, &taken) == 1)
		ij_key_done(st);
	return IJ_TAKEN;
}

/* Where a key must start (state IJ_KEY or IJ_KEY_OR_CLOSE). */
static enum ij_step ij_step_want_key(struct ij_stream *st, unsigned char c)
{
	if (c == '"') {
		ij_capture_start(st, 1);
		st->state = IJ_IN_KEY;
		return IJ_AGAIN;
	}
	if (c == '}' && st->state == IJ_KEY_OR_CLOSE) {
		st->state = IJ_MEMBER_END;
		return IJ_AGAIN;
	}
	ij_refuse(st, "expected a key (\"...\") in the top-level object");
	return IJ_TAKEN;
}

/* After ':'.  bevindingen must be an array; other values are cut out. */
static enum ij_step ij_step_value(struct ij_stream *st, unsigned char c)
{
	if (st->key == IJ_KEY_BEVINDINGEN) {
		if (c != '[') {
			ij_refuse(st, "\"bevindingen\" is not an array");
			return IJ_TAKEN;
		}
		if (st->max_depth < 2) {
			ij_refuse(st, "nesting deeper than %zu levels",
				  st->max_depth);
			return IJ_TAKEN;
		}
		st->have_bevindingen = 1;
		st->state = IJ_ELEM_OR_CLOSE;
		return IJ_TAKEN;
	}
	if (c == ',' || c == '}' || c == ']' || c == ':') {
		ij_refuse(st, "expected a value");
		return IJ_TAKEN;
	}
	ij_capture_start(st, 1);
	st->state = IJ_CAPTURE;
	return IJ_AGAIN;
}

/* Where an element of bevindingen may start. */
static enum ij_step ij_step_elem(struct ij_stream *st, unsigned char c)
{
	if (c == ']' && st->state == IJ_ELEM_OR_CLOSE) {
		st->state = IJ_MEMBER_END;
		return IJ_TAKEN;
	}
	if (c == ',' || c == '}' || c == ']' || c == ':') {
		ij_refuse(st, "expected a finding in \"bevindingen\"");
		return IJ_TAKEN;
	}
	ij_capture_start(st, 2);
	st->state = IJ_CAPTURE;
	return IJ_AGAIN;
}

/* After a top-level member: ',' or the closing '}'. */
static enum ij_step ij_step_member_end(struct ij_stream *st, unsigned char c)
{
	if (c == ',') {
		st->state = IJ_KEY;
	} else if (c == '}') {
		if (!st->have_bevindingen)
			ij_refuse(st, "the top-level object has no "
				  "\"bevindingen\" array");
		st->state = IJ_END;
	} else {
		ij_refuse(st, "expected ',' or '}' in the top-level object");
	}
	return IJ_TAKEN;
}

/* After an element: ',' or the closing ']'. */
static enum ij_step ij_step_elem_end(struct ij_stream *st, unsigned char c)
{
	if (c == ',')
		st->state = IJ_ELEM;
	else if (c == ']')
		st->state = IJ_MEMBER_END;
	else
		ij_refuse(st, "expected ',' or ']' in \"bevindingen\"");
	return IJ_TAKEN;
}

/* Handles one byte in the current state.  Returns an ij_step. */
static enum ij_step ij_step(struct ij_stream *st, unsigned char c)
{
	if (st->state == IJ_CAPTURE)
		return ij_step_capture(st, c);
	if (st->state == IJ_IN_KEY)
		return ij_step_key(st, c);
	if (ij_is_ws(c))
		return IJ_TAKEN;
	switch (st->state) {
	case IJ_START:
		if (c == '{' && st->max_depth >= 1)
			st->state = IJ_KEY_OR_CLOSE;
		else if (c == '{')
			ij_refuse(st, "nesting deeper than %zu levels",
				  st->max_depth);
		else
			ij_refuse(st, "the file is not a JSON object "
				  "(expected '{')");
		return IJ_TAKEN;
	case IJ_KEY_OR_CLOSE:
	case IJ_KEY:
		return ij_step_want_key(st, c);
	case IJ_COLON:
		if (c == ':')
			st->state = IJ_VALUE;
		else
			ij_refuse(st, "expected ':' after a key");
		return IJ_TAKEN;
	case IJ_VALUE:
		return ij_step_value(st, c);
	case IJ_MEMBER_END:
		return ij_step_member_end(st, c);
	case IJ_ELEM_OR_CLOSE:
	case IJ_ELEM:
		return ij_step_elem(st, c);
	case IJ_ELEM_END:
		return ij_step_elem_end(st, c);
	default:
		ij_refuse(st, "text after the end of the top-level object");
		return IJ_TAKEN;
	}
}

/* Moves the position past byte c; columns count characters, as jansson. */
static void ij_advance(struct ij_stream *st, unsigned char c)
{
	if (c == '\n') {
		st->line++;
		st->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		st->col++;
	}
}

/*
 * Starts a stream.  Returns it (freed by ij_close), or NULL when out of
 * memory.
 */
static void *ij_open(const struct adapter_host *host)
{
	struct ij_stream *st;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->host = *host;
	st->max_field = host->max_field_bytes ? host->max_field_bytes
					      : IJ_DEFAULT_MAX_FIELD;
	st->max_depth = host->max_depth ? host->max_depth
					: IJ_DEFAULT_MAX_DEPTH;
	st->line = 1;
	st->col = 1;
	ij_hook(1);
	st->keys = json_object();
	if (st->keys == NULL)
		goto out_unhook;
	return st;

out_unhook:
	ij_hook(0);
	free(st);
	return NULL;
}

/*
 * Skips a UTF-8 byte-order mark at the start of the file (RFC 8259 §8.1
 * lets a parser ignore one), however the chunks split it.  Returns the
 * bytes of buf it took; refuses the file on the first bytes of a mark
 * that is not finished.
 */
static size_t ij_skip_bom(struct ij_stream *st, const char *buf, size_t len)
{
	static const char bom[] = "\xEF\xBB\xBF";
	size_t i = 0;

	while (st->bom < 3 && i < len) {
		if (buf[i] != bom[st->bom]) {
			if (st->bom > 0)
				ij_refuse(st, "a byte-order mark that is not UTF-8's");
			st->bom = 3;
			break;
		}
		st->bom++;
		i++;
	}
	return i;
}

/* Parses the next len bytes.  Returns an adapter_rc. */
static int ij_feed(void *stream, const char *buf, size_t len)
{
	struct ij_stream *st = stream;
	size_t i = 0;

	if (st->rc != ADAPTER_OK)
		return st->rc;
	if (st->finished) {
		ij_refuse(st, "input after the end of the file");
		return st->rc;
	}
	if (st->bom < 3)
		i = ij_skip_bom(st, buf, len);
	while (i < len && st->rc == ADAPTER_OK) {
		unsigned char c = (unsigned char)buf[i];

		if (ij_step(st, c) == IJ_AGAIN)
			continue;
		ij_advance(st, c);
		i++;
	}
	return st->rc;
}

/* Ends the input.  Returns an adapter_rc. */
static int ij_finish(void *stream)
{
	struct ij_stream *st = stream;

	if (st->rc != ADAPTER_OK || st->finished)
		return st->rc;
	st->finished = 1;
	if (st->state == IJ_START)
		ij_refuse(st, "the file is empty, expected a JSON object");
	else if (st->state != IJ_END)
		ij_refuse(st, "unexpected end of the file");
	/* The whole page is read: tell a puller where the next one starts. */
	if (st->rc == ADAPTER_OK && st->host.cursor != NULL)
		st->host.cursor(st->host.ctx, st->volgende);
	return st->rc;
}

/* Why the input was refused; the text lives until ij_close. */
static const char *ij_error(void *stream)
{
	struct ij_stream *st = stream;

	if (st->rc == ADAPTER_OK)
		return "";
	if (st->rc == ADAPTER_NOMEM)
		return "out of memory";
	if (st->rc == ADAPTER_ABORT)
		return "stopped by the host";
	return st->err;
}

/* Frees a stream made by ij_open; accepts NULL. */
static void ij_close(void *stream)
{
	struct ij_stream *st = stream;

	if (st == NULL)
		return;
	json_decref(st->keys);
	ij_hook(0);
	free(st->volgende);
	free(st->stack);
	free(st->buf);
	free(st);
}

__attribute__((visibility("default")))
const struct adapter schakel_adapter = {
	.abi_version = ADAPTER_ABI_VERSION,
	.name = "inspectie",
	.version = "1.0",
	.description = "inspectorate findings (JSON, bevindingen with a cursor)",
	.source_schema = NULL,
	.open = ij_open,
	.feed = ij_feed,
	.finish = ij_finish,
	.error = ij_error,
	.close = ij_close,
};
