#!/bin/bash
# tests/hostile/gen.sh OUTDIR - writes the big hostile inputs of the catalogue
# (tests/hostile/cases.txt names them with a "gen:" prefix) into OUTDIR, so
# that they need not be committed.  Deterministic; about 330 MB in all, made
# in a few seconds.  Each file is a well-formed envelope around one hostile
# part, so that the hostile part, and nothing else, is what gets refused.
set -eu
out=${1:?usage: gen.sh OUTDIR}
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
