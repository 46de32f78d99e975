#!/bin/bash
# tests/hostile/gen.sh OUTDIR - writes the big hostile inputs of the catalogue
# (tests/hostile/cases.txt names them with a "gen:" prefix) into OUTDIR, so
# that they need not be committed.  Deterministic; about 330 MB in all, made
# in a few seconds.  Each file is a well-formed envelope around one hostile
# part, so that the hostile part, and nothing else, is what gets refused.
set -eu
out=${1:?usage: gen.sh OUTDIR}
FIXTURES=$(cd "$(dirname "$0")/../fixtures" && pwd)
mkdir -p "$out"
cd "$out"

MB100=$((100 * 1024 * 1024))

# n_times N TEXT: TEXT N times, without a newline
n_times() {
	awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'
}

brp_head() {
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	echo '<BG:npsLa01 xmlns:BG="http://www.egem.nl/StUF/sector/bg/0310" xmlns:StUF="http://www.egem.nl/StUF/StUF0301">'
	echo '<BG:stuurgegevens><StUF:berichtcode>La01</StUF:berichtcode><StUF:zender><StUF:organisatie>1783</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>20261101080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS</StUF:entiteittype></BG:stuurgegevens>'
	echo '<BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag></BG:parameters>'
	echo '<BG:antwoord>'
}
brp_tail() {
	printf '</BG:antwoord>\n</BG:npsLa01>\n'
}

# XML: 10,000 elements deep inside one object.
{
	brp_head
	printf '<BG:object StUF:entiteittype="NPS"><BG:inp.bsn>999900006</BG:inp.bsn>'
	n_times 10000 '<BG:x>'
	n_times 10000 '</BG:x>'
	printf '</BG:object>\n'
	brp_tail
} >brp-deep-10000.xml

# XML: one text node of 100 MB (a surname).
{
	brp_head
	printf '<BG:object StUF:entiteittype="NPS"><BG:inp.bsn>999900006</BG:inp.bsn><BG:geslachtsnaam>'
	head -c $MB100 /dev/zero | tr '\0' a
	printf '</BG:geslachtsnaam></BG:object>\n'
	brp_tail
} >brp-text-100mb.xml

# XML: quadratic blow-up: one 50 kB entity referred to 20,000 times (1 GB
# expanded from 150 kB), no nesting of entities.
{
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	printf '<!DOCTYPE BG:npsLa01 [ <!ENTITY a "%s"> ]>\n' "$(n_times 50000 a)"
	echo '<BG:npsLa01 xmlns:BG="http://www.egem.nl/StUF/sector/bg/0310" xmlns:StUF="http://www.egem.nl/StUF/StUF0301"><BG:antwoord><BG:object StUF:entiteittype="NPS"><BG:geslachtsnaam>'
	n_times 20000 '&a;'
	printf '</BG:geslachtsnaam></BG:object></BG:antwoord></BG:npsLa01>\n'
} >brp-quadratic-blowup.xml

# XML: 200,000 attributes on one object (2.2 MB); libxml2's duplicate check
# is quadratic in them (12 s before the [ingest] max_attributes scan).
{
	brp_head
	printf '<BG:object StUF:entiteittype="NPS"'
	awk 'BEGIN { for (i = 0; i < 200000; i++) printf " a%d=\"x\"", i }'
	printf '><BG:inp.bsn>999900006</BG:inp.bsn></BG:object>\n'
	brp_tail
} >brp-attributes-200000.xml

# XML: 100,000 namespace declarations on one object.
{
	brp_head
	printf '<BG:object StUF:entiteittype="NPS"'
	awk 'BEGIN { for (i = 0; i < 100000; i++) printf " xmlns:n%d=\"urn:x:%d\"", i, i }'
	printf '><BG:inp.bsn>999900006</BG:inp.bsn></BG:object>\n'
	brp_tail
} >brp-namespaces-100000.xml

# XML: one attribute value of 100 MB.
{
	brp_head
	printf '<BG:object StUF:entiteittype="NPS" StUF:sleutelVerzendend="'
	head -c $MB100 /dev/zero | tr '\0' a
	printf '"><BG:inp.bsn>999900006</BG:inp.bsn></BG:object>\n'
	brp_tail
} >brp-attribute-100mb.xml

CSV_HEAD='gemeentecode;nummeraanduiding_id;postcode;huisnummer;huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;vergunning_nummer;vergunning_geldig_tot'

# CSV: one field of 70,000 bytes (max_field_bytes is 64 KiB).
{
	echo "$CSV_HEAD"
	printf '1783;;2671AB;10;;;%s;48;woonfunctie;;;\n' "$(n_times 70000 a)"
} >csv-field-overlong.csv

# CSV: one field of 100 MB.
{
	echo "$CSV_HEAD"
	printf '1783;;2671AB;10;;;'
	head -c $MB100 /dev/zero | tr '\0' a
	printf ';48;woonfunctie;;;\n'
} >csv-field-100mb.csv

# CSV: one line of 1,000,000 empty fields (a 1 MB line).
{
	echo "$CSV_HEAD"
	n_times 1000000 ';'
	echo
} >csv-line-overlong.csv

# CSV: one line of 100 MB without a separator or newline, quoted.
{
	echo "$CSV_HEAD"
	printf '"'
	head -c $MB100 /dev/zero | tr '\0' b
	printf '"\n'
} >csv-quoted-100mb.csv

# JSON: 10,000 arrays deep inside one finding.
{
	printf '{"bevindingen": [{"id": "NLA-1", "x": '
	n_times 10000 '['
	n_times 10000 ']'
	printf '}], "volgende": null}\n'
} >json-deep-10000.json

# JSON: 10,000 objects deep at the top level (before any finding).
{
	printf '{"x": '
	n_times 10000 '{"a": '
	printf '1'
	n_times 10000 '}'
	printf ', "bevindingen": []}\n'
} >json-deep-top-10000.json

# JSON: one string of 100 MB.
{
	printf '{"bevindingen": [{"id": "NLA-1", "datum": "2026-09-01", "soort": "huisvesting", "werkgever": {"kvk": "12345678", "naam": "'
	head -c $MB100 /dev/zero | tr '\0' c
	printf '"}}], "volgende": null}\n'
} >json-string-100mb.json

# CSV: one line of 100 MB of separators (104,857,601 empty fields).
{
	echo "$CSV_HEAD"
	head -c $MB100 /dev/zero | tr '\0' ';'
	echo
} >csv-line-100mb.csv

# --- HTTP requests (http-*.req) ------------------------------------------------
# Raw requests that tests/e2e/hostile.sh sends over TLS as Westland.  Each is
# an upload of a valid BRP file (tests/fixtures/brp-npsLa01.xml) whose framing
# is wrong (RFC 9112), followed by a second, valid request on the same
# connection: the server must answer 400 (or 505), store nothing and close,
# so the second request is never answered.
BODY=$(cat "$FIXTURES/brp-npsLa01.xml")
LEN=${#BODY}
NEXT='GET /v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'

# req NAME REQUEST-LINE HEADER-LINES: NAME.req, the body, then $NEXT
req() {
	{
		printf "$2\r\n"
		printf "$3"
		printf '\r\n%s' "$BODY"
		printf "$NEXT"
	} >"http-$1.req"
}
UP='POST /v1/uploads/brp HTTP/1.1'
H='Host: 127.0.0.1\r\n'
req two-content-length "$UP" "${H}Content-Length: $LEN\r\nContent-Length: 10\r\n"
req two-content-length-short-first "$UP" "${H}Content-Length: 10\r\nContent-Length: $LEN\r\n"
req content-length-nul "$UP" "${H}Content-Length: $LEN\0000\r\n"
req content-length-list "$UP" "${H}Content-Length: $LEN, $LEN\r\n"
req content-length-plus "$UP" "${H}Content-Length: +$LEN\r\n"
req content-length-inner-space "$UP" "${H}Content-Length: ${LEN:0:2} ${LEN:2}\r\n"
req content-length-negative "$UP" "${H}Content-Length: -$LEN\r\n"
req content-length-overflow "$UP" "${H}Content-Length: 18446744073709551621\r\n"
req content-length-hex "$UP" "${H}Content-Length: 0x$(printf %x "$LEN")\r\n"
req te-and-content-length "$UP" "${H}Transfer-Encoding: chunked\r\nContent-Length: $LEN\r\n"
req te-gzip "$UP" "${H}Transfer-Encoding: gzip\r\n"
req te-twice "$UP" "${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
req te-http10 'POST /v1/uploads/brp HTTP/1.0' "${H}Transfer-Encoding: chunked\r\n"
req obs-fold "$UP" "${H}X-A: a\r\n b\r\nContent-Length: $LEN\r\n"
req space-before-colon "$UP" "${H}Content-Length : $LEN\r\n"
req bare-cr "$UP" "${H}X-A: a\rContent-Length: 10\r\nContent-Length: $LEN\r\n"
req bare-lf "$UP" "${H}X-A: a\nContent-Length: 10\r\nContent-Length: $LEN\r\n"
req nul-in-header "$UP" "${H}X-A: a\000b\r\nContent-Length: $LEN\r\n"
req nul-in-request-line 'POST /v1/uploads/brp\0000 HTTP/1.1' "${H}Content-Length: $LEN\r\n"
req control-in-header "$UP" "${H}X-A: a\033[2Jb\r\nContent-Length: $LEN\r\n"
req field-name-not-token "$UP" "${H}X(A): a\r\nContent-Length: $LEN\r\n"
req method-not-token 'PO(ST /v1/uploads/brp HTTP/1.1' "${H}Content-Length: $LEN\r\n"
req target-absolute 'POST https://127.0.0.1/v1/uploads/brp HTTP/1.1' "${H}Content-Length: $LEN\r\n"
req target-control 'POST /v1/uploads/brp?a=\033 HTTP/1.1' "${H}Content-Length: $LEN\r\n"
req version-2 'POST /v1/uploads/brp HTTP/2.0' "${H}Content-Length: $LEN\r\n"
req version-lowercase 'POST /v1/uploads/brp http/1.1' "${H}Content-Length: $LEN\r\n"
req two-spaces 'POST  /v1/uploads/brp HTTP/1.1' "${H}Content-Length: $LEN\r\n"
req no-host "$UP" "Content-Length: $LEN\r\n"
req two-hosts "$UP" "${H}${H}Content-Length: $LEN\r\n"
