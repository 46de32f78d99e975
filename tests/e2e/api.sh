#!/bin/bash
# The HTTPS API of `schakel serve`, end to end: real mutual TLS with curl
# and the certificates of certs/mkcerts.sh, one server per test on
# 127.0.0.1 with --port 0.  Uploads, the inbox, feedback, the log, the
# refusals (401/403/404/405/408/413/431/400), SIGHUP and SIGTERM, and memory.
#
# Needs curl, openssl, jq, sqlite3 and xmllint; a test that needs a missing
# tool is reported as skipped.
. "$(dirname "$0")/lib.sh"

# In a test's subshell `fail` ends the test at once (and the EXIT trap
# stops its server), so that no later assertion can hide a failure.
fail() {
	echo "# $*"
	exit 1
}

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
V=00000001000000000983	# Gemeente Venlo, gemeenten 0983
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national, receive_bsn
S=00000009999999999999	# Stranger: a valid certificate, no [party] section

MISSING=
for tool in curl openssl jq sqlite3 xmllint; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done

# One PKI per script run, copied into each data directory; a second PKI,
# with its own CA, for a certificate the server must not trust.
PKI=$TMP/pki
OTHER=$TMP/other-pki
if [ -z "$MISSING" ]; then
	"$ROOT/certs/mkcerts.sh" "$PKI" $W:Westland $V:Venlo $N:NLA $S:Stranger >/dev/null &&
		"$ROOT/certs/mkcerts.sh" "$OTHER" $W:Westland >/dev/null ||
		{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
fi

# note TEXT: a TAP comment on the script's output, whether the test passes
# or fails (a test's own output is shown only when it fails).
exec 3>&1
note() {
	echo "# $*" >&3
}

# --- the installation and its server ------------------------------------

# setup: a data directory with the PKI, GEEN_VERGUNNING for Westland and
# the three parties of the examples (the Stranger has no section).
setup() {
	cd "${D%/data}" || fail "no test directory"
	sk init >/dev/null || fail "init failed"
	cp -r "$PKI" "$D/certs"
	sed -i 's/^gemeenten =$/gemeenten = 1783/' "$D/schakel.conf"
	cat >>"$D/schakel.conf" <<CONF

[party.$W]
name = Gemeente Westland
gemeenten = 1783
supplies = brp
receives = all

[party.$V]
name = Gemeente Venlo
gemeenten = 0983
supplies = brp
receives = all

[party.$N]
name = Nederlandse Arbeidsinspectie
supplies = inspectie, huisvesting
receives = all
receive_bsn = true
CONF
}

server_set() {	# server_set KEY VALUE: sets KEY in [server]
	sed -i "/^\[server\]/,/^\[/ s|^$1 =.*|$1 = $2|" "$D/schakel.conf"
	grep -qx "$1 = $2" "$D/schakel.conf" || fail "cannot set $1 in [server]"
}

SPID=
SLOG=
# start: runs the server on a free port; sets SPID, PORT and SLOG.  The
# server is stopped when the test's subshell exits, however it exits.
start() {
	SLOG=${D%/data}/serve.log
	: >"$SLOG"
	"$SCHAKEL" -D "$D" serve --port 0 2>"$SLOG" &
	SPID=$!
	trap on_exit EXIT
	PORT=
	for _ in $(seq 200); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$SLOG")
		[ -n "$PORT" ] && return 0
		kill -0 "$SPID" 2>/dev/null || { cat "$SLOG"; fail "the server did not start"; }
		sleep 0.05
	done
	fail "the server did not say it was listening within 10 s"
}

# stop: SIGTERM, then waits for the server.
stop() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	for _ in $(seq 300); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$SPID" 2>/dev/null && { echo "# the server ignored SIGTERM for 15 s"; kill -KILL "$SPID"; }
	wait "$SPID"
	SPID=
}

on_exit() {
	local rc=$?
	stop
	if [ "$rc" -ne 0 ] && [ -s "$SLOG" ]; then
		echo "# server log:"
		tail -8 "$SLOG" | sed 's/^/#   /'
	fi
}

# --- requests (call and want are in lib.sh) ------------------------------

json() {	# json FILTER [FILE]: fails unless jq finds FILTER true in FILE (body)
	jq -e "$1" "${2:-body}" >/dev/null || fail "not true: $1 in $(head -c 600 "${2:-body}")"
}

upload() {	# upload WHO ADAPTER FILE: a 200 upload
	want 200 "$1" "/v1/uploads/$2" --data-binary "@$3"
}

# The four example files, each by the party that may supply it.
upload_all() {
	upload $W brp "$FIX/brp-npsLa01.xml"
	upload $V brp "$FIX/brp-venlo-npsLa01.xml"
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
}

# signal_id RULE POSTCODE: the id of that signal, from the database.
signal_id() {
	db "SELECT s.id FROM signal s JOIN address a ON a.addr = s.addr
	    WHERE s.rule = '$1' AND a.postcode = '$2'"
}

# tls_raw WHO: an s_client for a hand-made request on stdin, response on stdout.
tls_raw() {
	timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/certs/ca.crt" \
		-cert "$D/certs/party-$1.crt" -key "$D/certs/party-$1.key" 2>s_client.err
}

# big_file N: gen-brp.sh N, made once per script run; prints its path.
big_file() {
	local f=$TMP/brp-$1.xml
	if [ ! -s "$f" ]; then
		"$ROOT/tests/tools/gen-brp.sh" "$1" >"$f.tmp" && mv "$f.tmp" "$f" || return 1
	fi
	echo "$f"
}

# --- 1, 2: uploads -----------------------------------------------------------

test_brp_upload_accepts_8_rejects_1_with_place() {
	setup
	start
	upload $W brp "$FIX/brp-npsLa01.xml"
	json '.accepted == 8 and .rejected == 1 and (.rejections | length) == 1'
	json '.rejections[0].place == "line 113 (object 9)"'
	json '.rejections[0].reason == "BSN fails the elfproef"'
	json '.adapter == "brp" and (.digest | test("^[0-9a-f]{64}$")) and .rejections_complete'
	[ "$(db 'SELECT count(*) FROM person')" -eq 8 ] || fail "person rows: $(db 'SELECT count(*) FROM person')"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'upload' AND party = '$W'")" -eq 1 ] ||
		fail "no upload entry for Westland in the log"
}

test_municipality_cannot_supply_another_municipalitys_records() {
	setup
	start
	upload $W brp "$FIX/brp-venlo-npsLa01.xml"
	json '.accepted == 0 and .rejected == 4'
	json '[.rejections[].reason] | length == 4 and
	      all(. == "gemeentecode 0983 is not one this party may supply")'
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "Venlo's persons were stored"
	# Venlo itself may.
	upload $V brp "$FIX/brp-venlo-npsLa01.xml"
	json '.accepted == 4 and .rejected == 0'
}

# brp_one BSN POSTCODE HUISNUMMER GEMEENTE BEGINDATUM [AOA-ID]: an npsLa01 of one person
brp_one() {
	cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<BG:npsLa01 xmlns:BG="http://www.egem.nl/StUF/sector/bg/0310" xmlns:StUF="http://www.egem.nl/StUF/StUF0301">
<BG:stuurgegevens><StUF:berichtcode>La01</StUF:berichtcode><StUF:zender><StUF:organisatie>$4</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>20261101080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS</StUF:entiteittype></BG:stuurgegevens>
<BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag></BG:parameters>
<BG:antwoord><BG:object StUF:entiteittype="NPS"><BG:inp.bsn>$1</BG:inp.bsn><BG:verblijfsadres>${6:+<BG:aoa.identificatie>$6</BG:aoa.identificatie>}<BG:aoa.postcode>$2</BG:aoa.postcode><BG:aoa.huisnummer>$3</BG:aoa.huisnummer><BG:begindatumVerblijf>$5</BG:begindatumVerblijf></BG:verblijfsadres><BG:inp.gemeenteVanInschrijving>$4</BG:inp.gemeenteVanInschrijving></BG:object></BG:antwoord>
</BG:npsLa01>
XML
}

# rejected_only REASON: the upload's answer rejected its one record for REASON
rejected_only() {
	json '.accepted == 0 and .rejected == 1'
	jq -e --arg r "$1" '.rejections[0].reason == $r' body >/dev/null ||
		fail "not rejected for '$1': $(head -c 600 body)"
}

# Issue 13.1: territory rests on the address: what a municipality uploads
# may not change another's dwelling, registration or finding.
test_municipality_cannot_change_another_municipalitys_data() {
	local dwelling person finding
	setup
	sed -i 's/^supplies = brp$/supplies = brp, huisvesting, inspectie/' "$D/schakel.conf"
	start
	HOST=$ROOT/tests/hostile
	upload $W huisvesting "$HOST/westland-dwellings.csv"
	json '.accepted == 2'
	brp_one 999900006 2671AB 10 1783 20250301 >w.xml
	upload $W brp w.xml
	json '.accepted == 1'
	upload $N inspectie "$FIX/inspectie.json"
	dwelling=$(db "SELECT * FROM dwelling ORDER BY addr")
	person=$(db "SELECT addr, gemeentecode, digest FROM person")
	finding=$(db "SELECT * FROM finding ORDER BY id")
	# Venlo, with its own gemeentecode, at Westland's address: the dwelling,
	# a person placed there, a finding there
	upload $V huisvesting "$HOST/csv-address-of-other-gemeente.csv"
	rejected_only "address 2671AB 10 is held under gemeentecode 1783, not 0983 (outside this party's territory)"
	upload $V huisvesting "$HOST/csv-address-of-other-gemeente-letter.csv"
	rejected_only "address 2671AC 3A is held under gemeentecode 1783, not 0983 (outside this party's territory)"
	brp_one 999900018 2671AB 10 0983 20250301 >v1.xml
	upload $V brp v1.xml
	rejected_only "address 2671AB 10 is held under gemeentecode 1783, not 0983 (outside this party's territory)"
	upload $V inspectie "$HOST/json-address-of-other-gemeente.json"
	rejected_only "address 2671AB 10 is held under gemeentecode 1783, not 0983 (outside this party's territory)"
	# a gemeentecode that contradicts the nummeraanduiding
	brp_one 999900018 5911AA 1 0983 20250301 1783200000000010 >v2.xml
	upload $V brp v2.xml
	rejected_only "gemeentecode 0983 contradicts nummeraanduiding_id 1783200000000010 (whose first four digits are its gemeentecode)"
	# Westland's registration, moved by Venlo to a Venlo address
	brp_one 999900006 5911AA 1 0983 20250301 >v3.xml
	upload $V brp v3.xml
	rejected_only "the stored registration it would change is held under gemeentecode 1783, not one this party may supply"
	# ... or withdrawn by Venlo (an npsLk01 verwijdering at a Venlo address)
	sed -e 's/npsLa01/npsLk01/g; s/La01</Lk01</; s/<StUF:indicatorVervolgvraag>false<\/StUF:indicatorVervolgvraag>/<StUF:mutatiesoort>V<\/StUF:mutatiesoort>/' \
	    -e 's/<BG:antwoord>//; s/<\/BG:antwoord>//; s/entiteittype="NPS">/entiteittype="NPS" StUF:verwerkingssoort="V">/' v3.xml >v3v.xml
	upload $V brp v3v.xml
	rejected_only "the stored registration it would change is held under gemeentecode 1783, not one this party may supply"
	# a finding at Westland's address, given again by Venlo at its own
	id=$(db "SELECT id FROM finding WHERE gemeentecode = '1783' LIMIT 1")
	printf '{"bevindingen": [{"id": "%s", "datum": "2026-11-01", "soort": "huisvesting", "adres": {"gemeentecode": "0983", "postcode": "5911AA", "huisnummer": 1}, "aangetroffen_personen": 9}], "volgende": null}' "$id" >v4.json
	upload $V inspectie v4.json
	rejected_only "the stored finding it would change is held under gemeentecode 1783, not one this party may supply"
	[ "$(db "SELECT * FROM dwelling ORDER BY addr")" = "$dwelling" ] || fail "a dwelling changed"
	[ "$(db "SELECT addr, gemeentecode, digest FROM person")" = "$person" ] || fail "a registration changed"
	[ "$(db "SELECT * FROM finding ORDER BY id")" = "$finding" ] || fail "a finding changed"
	# Venlo's own data still goes in
	brp_one 999900018 5911AA 1 0983 20250301 0983200000000101 >v5.xml
	upload $V brp v5.xml
	json '.accepted == 1 and .rejected == 0'
}

# Issue 13.4: a BSN-like value in a rejection is masked in the answer and
# in the log, whatever its separators.
test_rejection_never_quotes_a_bsn() {
	setup
	start
	for f in brp-bsn-dots.xml brp-bsn-spaces.xml brp-bsn-in-postcode.xml; do
		upload $W brp "$ROOT/tests/hostile/$f"
		json '.accepted == 0 and .rejected == 1 and (.rejections[0].reason | test("\\[BSN\\?\\]"))'
		! tr -d ' .\-' <body | grep -q 999900006 || fail "the answer shows the BSN: $(cat body)"
	done
	! db "SELECT detail FROM exlog" | tr -d ' .\-' | grep -q 999900006 || fail "the log shows the BSN"
}

# --- 3: who may connect ---------------------------------------------------

test_no_client_certificate_401() {
	setup
	start
	want 401 - /v1/signals
	json '.status == 401 and (.error | test("client certificate is required"))'
}

test_certificate_of_another_ca_401() {
	setup
	start
	want 401 "$OTHER/party-$W" /v1/signals
	json '.status == 401 and (.error | test("not accepted"))'
	want 200 $W /v1/signals	# the same OIN from the right CA
}

test_revoked_certificate_401_revoked() {
	setup
	"$ROOT/certs/mkcerts.sh" "$D/certs" --revoke $V >/dev/null || fail "revoke failed"
	server_set crl certs/crl.pem
	start
	want 401 $V /v1/signals
	json '.status == 401 and (.error | test("revoked"))'
	want 200 $W /v1/signals	# the CRL check refuses only the revoked one
}

test_unknown_oin_403() {
	setup
	start
	want 403 $S /v1/signals
	json ".status == 403 and (.error | test(\"$S is not a party\"))"
}

# --- 4: grants, methods, paths ------------------------------------------------

test_upload_without_grant_403() {
	setup
	start
	want 403 $V /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json"
	json '.error | test("may not supply inspectie")'
	[ "$(db 'SELECT count(*) FROM finding')" -eq 0 ] || fail "findings were stored"
}

test_unknown_adapter_403_grant_checked_first() {
	setup
	start
	want 403 $W /v1/uploads/nosuch --data-binary "@$FIX/brp-npsLa01.xml"
	json '.error | test("may not supply nosuch")'
}

test_wrong_method_405() {
	setup
	start
	want 405 $W /v1/uploads/brp
	json '.error | test("use POST")'
	want 405 $W /v1/signals -X DELETE
}

test_unknown_path_404() {
	setup
	start
	want 404 $W /v2/nothing
	json '.status == 404'
	want 404 $W /v1/signals/x/y/feedback -H "Content-Type: application/json" --data '{}'
}

# --- 5, 6: bodies ------------------------------------------------------------------

test_body_over_max_body_bytes_413() {
	setup
	server_set max_body_bytes 2K
	start
	[ "$(stat -c %s "$FIX/brp-npsLa01.xml")" -gt 5000 ] || fail "the fixture is not 5 KB"
	want 413 $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml"
	json '.error | test("at most 2048")'
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "persons were stored"
}

test_truncated_xml_upload_400_nothing_stored() {
	setup
	start
	want 400 $W /v1/uploads/brp --data-binary "@$E2E/bad/truncated.xml"
	json '.error | test("refused, nothing stored")'
	json '.error | test("line 24, column 1")'
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "persons were stored"
	[ "$(db 'SELECT count(*) FROM ingest')" -eq 0 ] || fail "an ingest row was kept"
	[ -z "$(ls -A "$D/spool")" ] || fail "the spool file was left: $(ls "$D/spool")"
}

test_malformed_feedback_json_400() {
	setup
	start
	upload_all
	id=$(signal_id OVERBEWONING 2671AB)
	[ -n "$id" ] || fail "no OVERBEWONING signal at 2671AB"
	want 400 $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary '{"outcome": "bevestigd",'
	json '.error | test("outcome")'
	want 400 $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary '{"outcome": 1}'
	[ "$(db 'SELECT count(*) FROM feedback')" -eq 0 ] || fail "feedback was stored"
}

# --- 7, 8: slow and oversized requests ----------------------------------------------

test_silent_client_408_after_request_timeout() {
	setup
	server_set request_timeout 2
	start
	t0=$(date +%s%N)
	{
		printf 'GET /v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half'
		sleep 4
	} | tls_raw $W >resp &
	for _ in $(seq 120); do
		[ -s resp ] && break
		sleep 0.05
	done
	took=$((($(date +%s%N) - t0) / 1000000))
	wait $!
	head -1 resp | grep -q '^HTTP/1.1 408 ' || fail "no 408: $(head -c 300 resp) $(cat s_client.err)"
	grep -q '"error":"no data for 2 seconds"' resp || fail "no JSON error: $(cat resp)"
	grep -qi '^Connection: close' resp || fail "the 408 does not close the connection"
	note "408 came $took ms after the connection began (request_timeout 2 s; the client would wait 4 s)"
	{ [ "$took" -ge 1500 ] && [ "$took" -lt 3800 ]; } || fail "the 408 came after $took ms, not about 2 s"
	[ "$(logcount '.detail.status == 408' --kind refusal)" -eq 1 ] || fail "the 408 is not in the log"
	# The request line came whole: the refusal names its method and path.
	[ "$(logj '.detail.method + " " + .subject' --kind refusal)" = "GET /v1/signals" ] ||
		fail "the 408 is logged as '$(logj '.detail.method + " " + .subject' --kind refusal)'"
}

test_10000_header_lines_431() {
	setup
	server_set max_header_bytes 1M	# so that the count, not the size, refuses them
	start
	for i in $(seq 10000); do echo "header = \"X-H$i: v\""; done >h.cfg
	want 431 $W /v1/signals -K h.cfg
	json '.error == "more than 64 header lines"'
}

test_headers_over_max_header_bytes_431() {
	setup
	start
	printf 'header = "X-Big: %s"\n' "$(head -c 20000 /dev/zero | tr '\0' a)" >h.cfg
	want 431 $W /v1/signals -K h.cfg
	json '.error == "request headers larger than 16384 bytes"'
	want 200 $W /v1/signals	# and the server goes on
}

# A client that is still sending when the server refuses must be able to
# read the refusal (RFC 9112 9.6: close in stages), not get a reset.  Ten
# tries of 10,000 header lines (120 kB) at the default limits.
test_10000_header_lines_at_default_limits_431_every_time() {
	setup
	start
	for i in $(seq 10000); do echo "header = \"X-H$i: v\""; done >h.cfg
	got=
	: >errs
	for _ in $(seq 10); do
		got="$got $(call $W /v1/signals -K h.cfg)"
		cat curl.err >>errs
	done
	[ "$(echo "$got" | tr ' ' '\n' | grep -cx 431)" -eq 10 ] ||
		fail "statuses:$got (000: no response; curl said: $(sort errs | uniq -c | xargs))"
}

# --- 9, 10: the inbox -----------------------------------------------------------------

test_inbox_lists_only_the_callers_signals() {
	setup
	start
	upload_all
	[ "$(db 'SELECT count(*) FROM signal')" -eq 6 ] || fail "signals after the uploads: $(db 'SELECT count(*) FROM signal')"
	for who in $W $V $N; do
		want 200 "$who" /v1/signals
		n=$(db "SELECT count(*) FROM signal_recipient WHERE oin = '$who'")
		json "(.signals | length) == $n and all(.signals[]; .recipients | index(\"$who\") != null)"
		json "[.signals[].id] | unique | length == $n"
	done
	want 200 $W /v1/signals
	json '(.signals | length) == 5 and all(.signals[]; .address.postcode != "5911AA")'
	want 200 $N /v1/signals
	json '(.signals | length) == 6'
}

test_venlo_sees_5911AA_and_the_address_mismatch_only() {
	setup
	start
	upload_all
	want 200 $V /v1/signals
	json '(.signals | length) == 2'
	json 'any(.signals[]; .rule == "OVERBEWONING" and .address.postcode == "5911AA")'
	json 'any(.signals[]; .rule == "ADRES_AFWIJKING" and .registered_address.gemeentecode == "0983")'
	json 'all(.signals[]; .address.postcode != "2671AB")'
}

test_inbox_pages_of_one_give_each_signal_once() {
	setup
	start
	upload_all
	want 200 $N /v1/signals
	jq -r '.signals[].id' body | sort >all.ids
	[ "$(wc -l <all.ids)" -eq 6 ] || fail "NLA's inbox has $(wc -l <all.ids) signals"
	after=0
	: >paged.ids
	for page in $(seq 20); do
		want 200 $N "/v1/signals?limit=1&after=$after"
		json '(.signals | length) <= 1'
		[ "$(jq '.signals | length' body)" -eq 0 ] && break
		jq -r '.signals[].id' body >>paged.ids
		next=$(jq '.next' body)
		[ "$next" -gt "$after" ] || fail "next $next does not move past $after"
		after=$next
	done
	[ "$page" -eq 7 ] || fail "$page pages for 6 signals"
	sort paged.ids | diff all.ids - || fail "the pages are not the inbox, once each"
	json ".next == $after"	# an empty page keeps the cursor
	want 400 $N "/v1/signals?limit=0"
	want 400 $N "/v1/signals?after=-1"
}

test_inbox_as_xml_is_valid_against_the_schema() {
	setup
	start
	upload_all
	want 200 $W /v1/signals -H 'Accept: application/xml'
	mv body w.xml
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" w.xml 2>xmllint.err ||
		fail "invalid: $(head -5 xmllint.err)"
	n=$(xmllint --xpath 'count(//*[local-name()="signaal"])' w.xml)
	[ "$n" -eq 5 ] || fail "$n signals in Westland's XML inbox, expected 5"
	[ "$(xmllint --xpath "count(//*[local-name()='recipient'][. = '$W'])" w.xml)" -eq 5 ] ||
		fail "a signal in the XML does not name Westland"
}

# The daemon matches incrementally after an upload; a correction that
# resolves two situations shows them as ended in the inbox (JSON and XML)
# and in the recipient's log.
test_inbox_shows_signals_an_upload_ended() {
	setup
	start
	upload_all
	[ "$(logcount '.detail.mode == "changed"' --kind match)" -eq 4 ] || fail "no incremental matches"
	# NLA-2026-000101 corrected: 2 persons found at 2671AB 10, not 9
	sed '0,/"aangetroffen_personen": 9/ s//"aangetroffen_personen": 2/' "$FIX/inspectie.json" \
		>fixed.json
	upload $N inspectie fixed.json
	[ "$(logj .detail.marked --kind match | tail -1)" -eq 1 ] || fail "the match after it was not incremental"
	want 200 $W /v1/signals
	json '[.signals[] | select(.ended_on != null)] | length == 2'
	json '[.signals[] | select(.ended_on == null)] | length == 3'
	json 'all(.signals[] | select(.ended_on != null); .address.postcode == "2671AB")'
	want 200 $W /v1/signals -H 'Accept: application/xml'
	mv body w.xml
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" w.xml 2>xmllint.err ||
		fail "invalid: $(head -5 xmllint.err)"
	[ "$(xmllint --xpath 'count(//*[local-name()="ended_on"])' w.xml)" -eq 2 ] ||
		fail "not 2 ended signals in the XML inbox"
	want 200 $W /v1/log
	json '[.entries[] | select(.kind == "ended")] | length == 2'
}

# [match] full_interval: the daemon's full run checks the incremental ones
# and finds nothing to change (a `match` entry, mode reconcile, 0 and 0).
test_periodic_full_match_finds_nothing_to_change() {
	setup
	sed -i 's/^full_interval = .*/full_interval = 1/' "$D/schakel.conf"
	start
	upload_all
	upload $N inspectie "$FIX/inspectie.json"
	for _ in $(seq 100); do
		[ "$(logcount '.detail.mode == "reconcile"' --kind match)" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(logcount '.detail | .mode == "reconcile" and .created == 0 and .ended == 0 and
		.raised == 6' --kind match)" -ge 1 ] || fail "no reconciling run found 6, 0 new, 0 ended"
	[ "$(logcount '.detail | .mode == "reconcile" and .created + .ended > 0' --kind match)" -eq 0 ] ||
		fail "a reconciling run changed something"
	! grep -q "level=warn subsys=match" "$SLOG" || fail "the daemon warned: $(grep warn "$SLOG")"
}

test_bsn_only_for_a_grant_with_receive_bsn() {
	setup
	start
	upload_all
	want 200 $N /v1/signals
	json '[.signals[] | select(.rule == "ADRES_AFWIJKING")] | length == 1 and .[0].bsn == "999993653"'
	json '[.signals[] | select(has("bsn"))] | length == 1'
	for who in $W $V; do
		want 200 "$who" /v1/signals
		json 'any(.signals[]; .rule == "ADRES_AFWIJKING")'
		json 'all(.signals[]; has("bsn") | not)'
		! grep -q 999993653 body || fail "the BSN is in $who's inbox"
	done
}

# The schema (schakel-signal.xsd) has <bsn> "only for a recipient whose
# grant includes it": the XML inbox must carry what the JSON one does.
test_bsn_for_receive_bsn_in_the_xml_inbox_too() {
	setup
	start
	upload_all
	want 200 $N /v1/signals -H 'Accept: application/xml'
	grep -q '<bsn>999993653</bsn>' body || fail "no <bsn> in the NLA's XML inbox (the JSON one has it)"
	want 200 $W /v1/signals -H 'Accept: application/xml'
	! grep -q 999993653 body || fail "the BSN is in Westland's XML inbox"
}

# --- 11: feedback -------------------------------------------------------------------

test_feedback_by_recipient_201_stored_and_logged() {
	setup
	start
	upload_all
	id=$(signal_id OVERBEWONING 2671AB)
	[ -n "$id" ] || fail "no OVERBEWONING signal at 2671AB"
	want 201 $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary '{"outcome":"bevestigd","note":"x"}'
	json ".signal == \"$id\" and .outcome == \"bevestigd\" and (.feedback | type) == \"number\""
	[ "$(db "SELECT count(*) FROM feedback WHERE signal_id = '$id' AND oin = '$W'
	        AND outcome = 'bevestigd' AND note = 'x'")" -eq 1 ] || fail "no feedback row"
	[ "$(logcount ".party == \"$W\" and .subject == \"$id\" and .detail.outcome == \"bevestigd\"" \
		--kind feedback)" -eq 1 ] || fail "no feedback log entry"
}

test_feedback_by_non_recipient_404() {
	setup
	start
	upload_all
	id=$(signal_id OVERBEWONING 2671AB)
	[ -n "$id" ] || fail "no OVERBEWONING signal at 2671AB"
	want 404 $V "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary '{"outcome":"onterecht","note":"not ours"}'
	json '.error | test("no signal")'
	want 404 $W "/v1/signals/0123456789abcdef0123456789abcdef/feedback" -H "Content-Type: application/json" --data-binary '{"outcome":"bevestigd"}'
	[ "$(db 'SELECT count(*) FROM feedback')" -eq 0 ] || fail "feedback was stored"
}

test_feedback_unknown_outcome_400() {
	setup
	start
	upload_all
	id=$(signal_id OVERBEWONING 2671AB)
	want 400 $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary '{"outcome":"maybe"}'
	json '.error | test("bevestigd, onterecht or in_behandeling")'
	[ "$(db 'SELECT count(*) FROM feedback')" -eq 0 ] || fail "feedback was stored"
}

# ob_signal: the server with the examples uploaded; $id is the OVERBEWONING
# signal at 2671AB.
ob_signal() {
	setup
	start
	upload_all
	id=$(signal_id OVERBEWONING 2671AB)
	[ -n "$id" ] || fail "no OVERBEWONING signal at 2671AB"
}

test_feedback_note_limit_counts_characters() {
	ob_signal
	# 2000 characters of two bytes each (4000 bytes): within the limit.
	note=$(printf '\xc3\xa9%.0s' $(seq 2000))
	want 201 $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary "{\"outcome\":\"bevestigd\",\"note\":\"$note\"}"
	[ "$(db "SELECT length(note) FROM feedback")" -eq 2000 ] || fail "the note is not stored whole"
	want 400 $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" --data-binary "{\"outcome\":\"bevestigd\",\"note\":\"${note}x\"}"
	json '.error == "note is longer than 2000 characters"'
	[ "$(db 'SELECT count(*) FROM feedback')" -eq 1 ] || fail "the note of 2001 characters was stored"
}

test_feedback_without_json_content_type_415() {
	ob_signal
	# What a cross-site HTML form can send: its three types, or none.
	for type in "text/plain" "application/x-www-form-urlencoded" "multipart/form-data; boundary=x" ""; do
		want 415 $W "/v1/signals/$id/feedback" -H "Content-Type: $type" --data-binary '{"outcome":"bevestigd"}'
		json '.error | test("Content-Type: application/json")'
	done
	want 201 $W "/v1/signals/$id/feedback" -H "Content-Type: Application/JSON; charset=utf-8" --data-binary '{"outcome":"onterecht"}'
	[ "$(db "SELECT outcome FROM feedback" | paste -sd,)" = onterecht ] || fail "feedback without the JSON type was stored"
}

# --- 12, 13: the log ----------------------------------------------------------------

test_log_shows_venlo_only_its_own_entries() {
	setup
	start
	upload_all
	upload $W brp "$FIX/brp-venlo-npsLa01.xml"	# 4 rejections by Westland
	want 403 $W /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json"
	want 405 $W /v1/log -X POST
	[ "$(db "SELECT count(*) FROM exlog WHERE party = '$W' AND kind = 'refusal'")" -eq 2 ] ||
		fail "Westland's refusals are not in the log"
	want 200 $V "/v1/log?limit=1000"
	mv body venlo.json
	json "all(.entries[]; .party == \"$V\" or (.detail | tostring | contains(\"$V\")))" venlo.json
	json "all(.entries[]; .party != \"$W\")" venlo.json
	json "any(.entries[]; .kind == \"upload\" and .party == \"$V\")" venlo.json
	n=$(db "SELECT count(*) FROM exlog WHERE kind = 'signal' AND replace(detail, '\"$V\"', '') <> detail")
	[ "$n" -eq 2 ] || fail "$n signal entries name Venlo in the database, expected 2"
	json "[.entries[] | select(.kind == \"signal\")] | length == $n" venlo.json
	json "all(.entries[]; .kind != \"refusal\")" venlo.json
	# Westland sees its refusals.
	want 200 $W "/v1/log?limit=1000"
	json '[.entries[] | select(.kind == "refusal")] | length == 2'
}

# A refusal's detail quotes what the client sent; a client must not be able
# to put its entry into another party's log by naming that party's OIN.
test_log_refusal_naming_another_oin_is_not_shown_to_it() {
	setup
	start
	want 404 $W / --request-target "/x\"$V"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal' AND party = '$W'")" -eq 1 ] ||
		fail "Westland's refusal is not in the log"
	want 200 $V "/v1/log?limit=1000"
	jq -e "all(.entries[]; .party != \"$W\")" body >/dev/null ||
		fail "Venlo's log shows Westland's refusal: $(jq -c ".entries[] | select(.party == \"$W\")" body)"
}

# A party's refusal is an entry at once; those of clients that are not
# identified (no certificate, an OIN that is no party) are counted and
# written as one entry per source and cause, at the latest when the daemon
# stops.
test_every_refusal_is_a_log_entry_with_its_status() {
	setup
	start
	want 401 - /v1/signals
	want 403 $S /v1/signals
	want 403 $V /v1/uploads/inspectie --data-binary x
	[ "$(logcount ".party == \"$V\" and .detail.status == 403 and .detail.method == \"POST\" and
		.subject == \"/v1/uploads/inspectie\"" --kind refusal)" -eq 1 ] ||
		fail "no 403 entry of Venlo"
	stop
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal'")" -eq 3 ] ||
		fail "$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal'") refusal entries, expected 3"
	[ "$(logcount '.party == null and .subject == "127.0.0.1" and .detail.status == 401 and
		.detail.count == 1 and .detail.cause == "no_certificate"' --kind refusal)" -eq 1 ] ||
		fail "no 401 entry"
	[ "$(logcount ".party == null and .detail.status == 403 and .detail.cause == \"unknown_oin\" and
		(.detail.reason | startswith(\"OIN $S is not a party\"))" --kind refusal)" -eq 1 ] ||
		fail "no 403 entry for the stranger"
	sk log verify >/dev/null || fail "the log does not verify"
}

# --- 14, 15: signals ----------------------------------------------------------------

add_stranger() {
	printf '\n[party.%s]\nname = Stranger\nreceives = all\n' $S >>"$D/schakel.conf"
}

# waits for the Nth line with TEXT in the server log
wait_log() {
	for _ in $(seq 100); do
		[ "$(grep -cF -- "$1" "$SLOG")" -ge "${2:-1}" ] && return 0
		sleep 0.05
	done
	fail "'$1' not in the server log"
}

test_sighup_adds_a_party_on_a_connection_kept_open() {
	setup
	start
	want 403 $S /v1/signals
	req='GET /v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'	# printf %b
	{
		printf %b "$req"
		sleep 0.5
		add_stranger
		kill -HUP "$SPID"
		wait_log "configuration reloaded" >/dev/null
		printf %b "$req"
		sleep 0.5
		printf 'GET /v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
		sleep 1
	} | tls_raw $S >resp
	grep '^HTTP/1.1' resp >statuses
	[ "$(tr -d '\r' <statuses | cut -d' ' -f2 | xargs)" = "403 200 200" ] ||
		fail "on one connection: $(tr -d '\r' <statuses | xargs), expected 403, 200, 200"
	want 200 $S /v1/signals	# and on a new connection
	grep -q 'msg="configuration reloaded" parties=4' "$SLOG" || fail "no reload message"
}

test_sighup_with_a_malformed_config_keeps_the_old_one() {
	setup
	start
	echo "this is not a line of schakel.conf" >>"$D/schakel.conf"
	add_stranger
	kill -HUP "$SPID"
	wait_log "reload refused, old configuration kept"
	kill -0 "$SPID" || fail "the server died"
	want 200 $W /v1/signals
	want 403 $S /v1/signals	# the new party did not come in
	sed -i '/^this is not a line/d' "$D/schakel.conf"
	kill -HUP "$SPID"
	wait_log "configuration reloaded"
	want 200 $S /v1/signals
}

test_sigterm_finishes_an_upload_in_flight_and_exits_0() {
	setup
	start
	big=$(big_file 200000)
	# The upload is slowed so that SIGTERM surely comes while it arrives.
	curl -sS -o up.json -w '%{http_code}' --max-time 120 --limit-rate 25M \
		--cacert "$D/certs/ca.crt" --cert "$D/certs/party-$W.crt" --key "$D/certs/party-$W.key" \
		--data-binary "@$big" "https://127.0.0.1:$PORT/v1/uploads/brp" >up.status 2>up.err &
	cpid=$!
	t0=$(date +%s%N)
	size=0
	for _ in $(seq 200); do
		size=$(find "$D/spool" -name 'upload-*' -printf '%s\n' 2>/dev/null | head -1)
		[ "${size:-0}" -gt 5000000 ] && break
		sleep 0.05
	done
	[ "${size:-0}" -gt 5000000 ] || fail "the upload did not start spooling"
	kill -TERM "$SPID"
	term=$(date +%s%N)
	note "SIGTERM with $size of $(stat -c %s "$big") bytes spooled"
	wait $cpid
	done_at=$(date +%s%N)
	[ "$(cat up.status)" = 200 ] || fail "curl got $(cat up.status): $(head -c 300 up.json) $(cat up.err)"
	json '.accepted == 200000 and .rejected == 0' up.json
	for _ in $(seq 200); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$SPID" 2>/dev/null && fail "the server still runs after the upload"
	wait "$SPID"
	rc=$?
	SPID=
	[ "$rc" -eq 0 ] || fail "the server exited $rc"
	grep -q "finishing requests in flight" "$SLOG" || fail "no drain message"
	[ "$(db 'SELECT count(*) FROM person')" -eq 200000 ] || fail "not all persons were stored"
	[ -z "$(ls -A "$D/spool")" ] || fail "the spool file was left"
	note "75 MB upload: SIGTERM $(((term - t0) / 1000000)) ms after curl began; reply $(((done_at - term) / 1000000)) ms after SIGTERM"
}

# --- 16: memory ---------------------------------------------------------------------

# The body streams to the spool and the records through the ingest's
# batches; what may grow is SQLite's page cache, up to [store] cache_mib
# (16 MiB by default), set to 8 here so that the bound says something.
test_50mb_upload_server_peak_rss_below_64mb() {
	[ -n "${SCHAKEL_SANITIZED:-}" ] && { echo "# skipped under sanitizers"; return 0; }
	setup
	sed -i 's/^cache_mib = .*/cache_mib = 8/' "$D/schakel.conf"
	grep -q '^cache_mib = 8$' "$D/schakel.conf" || fail "cannot set cache_mib"
	start
	big=$(big_file 140000)
	t0=$(date +%s%N)
	upload $W brp "$big"
	ms=$((($(date +%s%N) - t0) / 1000000))
	json '.accepted == 140000'
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status")
	[ -n "$hwm" ] || fail "cannot read VmHWM"
	note "$(stat -c %s "$big") byte upload (140,000 persons) in $ms ms; server peak RSS (VmHWM) $hwm kB"
	[ "$hwm" -lt 65536 ] || fail "peak RSS $hwm kB is not below 64 MB"
}

tt "a BRP upload by Westland: 200, 8 accepted, 1 rejected at line 113 (object 9), 8 persons stored" test_brp_upload_accepts_8_rejects_1_with_place
tt "a municipality's upload of another municipality's records rejects each, stores none" test_municipality_cannot_supply_another_municipalitys_records
tt "a municipality cannot change another's dwelling, registration or finding (territory by address)" test_municipality_cannot_change_another_municipalitys_data
tt "a rejection never quotes a BSN, whatever its separators (answer and log)" test_rejection_never_quotes_a_bsn
tt "no client certificate: 401 with a JSON error" test_no_client_certificate_401
tt "a certificate from another CA: 401" test_certificate_of_another_ca_401
tt "a revoked certificate: 401 'revoked'" test_revoked_certificate_401_revoked
tt "a certificate whose OIN is no party: 403" test_unknown_oin_403
tt "an upload the grant does not allow (Venlo, inspectie): 403" test_upload_without_grant_403
tt "an unknown adapter: 403 (the grant is checked first)" test_unknown_adapter_403_grant_checked_first
tt "a wrong method: 405" test_wrong_method_405
tt "an unknown path: 404" test_unknown_path_404
tt "a body over max_body_bytes: 413, nothing stored" test_body_over_max_body_bytes_413
tt "a truncated XML upload: 400 'refused, nothing stored', nothing stored" test_truncated_xml_upload_400_nothing_stored
tt "malformed feedback JSON: 400" test_malformed_feedback_json_400
tt "a client silent in its headers: 408 after request_timeout" test_silent_client_408_after_request_timeout
tt "10,000 header lines: 431 (count limit)" test_10000_header_lines_431
tt "headers over max_header_bytes: 431" test_headers_over_max_header_bytes_431
tt "10,000 header lines at the default limits: the client reads 431 every time (no reset)" test_10000_header_lines_at_default_limits_431_every_time
tt "the inbox lists only signals routed to the caller" test_inbox_lists_only_the_callers_signals
tt "Venlo's inbox: OVERBEWONING at 5911AA and the ADRES_AFWIJKING, nothing of 2671AB" test_venlo_sees_5911AA_and_the_address_mismatch_only
tt "an upload that resolves two situations ends their signals, shown in the inbox" test_inbox_shows_signals_an_upload_ended
tt "the periodic full match ([match] full_interval) finds nothing to change" test_periodic_full_match_finds_nothing_to_change
tt "inbox pages of limit=1 give every signal exactly once" test_inbox_pages_of_one_give_each_signal_once
tt "the inbox as XML is valid against schakel-signal.xsd" test_inbox_as_xml_is_valid_against_the_schema
tt "the BSN only for receive_bsn = true (JSON)" test_bsn_only_for_a_grant_with_receive_bsn
tt "the BSN for receive_bsn = true in the XML inbox too" test_bsn_for_receive_bsn_in_the_xml_inbox_too
tt "feedback by a recipient: 201, stored and logged" test_feedback_by_recipient_201_stored_and_logged
tt "feedback by a party that is not a recipient: 404" test_feedback_by_non_recipient_404
tt "feedback with an unknown outcome: 400" test_feedback_unknown_outcome_400
tt "feedback note: the limit of 2000 counts characters, not bytes" test_feedback_note_limit_counts_characters
tt "feedback without Content-Type application/json (a cross-site form): 415" test_feedback_without_json_content_type_415
tt "the log shows Venlo only entries it is party to or named in" test_log_shows_venlo_only_its_own_entries
tt "a refusal whose path names another party's OIN is not in that party's log" test_log_refusal_naming_another_oin_is_not_shown_to_it
tt "every refusal (401, 403) is a log entry with its status" test_every_refusal_is_a_log_entry_with_its_status
tt "SIGHUP adds a party, on a connection kept open across the reload" test_sighup_adds_a_party_on_a_connection_kept_open
tt "SIGHUP with a malformed configuration keeps the old one" test_sighup_with_a_malformed_config_keeps_the_old_one
tt "SIGTERM finishes a 75 MB upload in flight (200 OK) and exits 0" test_sigterm_finishes_an_upload_in_flight_and_exits_0
tt "a 50 MB upload: server peak RSS below 64 MB (with an 8 MiB page cache)" test_50mb_upload_server_peak_rss_below_64mb
