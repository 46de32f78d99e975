#!/bin/bash
# Pushing signals, end to end: `schakel serve` delivers to the reference
# receiver (`schakel receive`) over mutual TLS on 127.0.0.1 with --port 0.
# Signed and valid files, the BSN only per grant, a recipient down and
# back, 400 (dead letters, retried by hand), 503 (retried, Retry-After
# respected), SIGKILL of the daemon mid-delivery, what the receiver
# refuses, and deliveries in parallel (max_in_flight per party, counted at
# a receiver that holds its answers back with --delay).
#
# Needs curl, sqlite3, xmllint, xmlsec1, jq and perl; python3 for the one part that
# needs a server answering 503 with Retry-After (skipped without it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national
V=00000001000000000983	# Gemeente Venlo, gemeenten 0983

MISSING=
for tool in curl sqlite3 xmllint xmlsec1 jq perl; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done

# One PKI per script run, copied into each data directory.
PKI=$TMP/pki
if [ -z "$MISSING" ]; then
	"$ROOT/certs/mkcerts.sh" "$PKI" $W:Westland $N:NLA $V:Venlo >/dev/null ||
		{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
fi

_receivers=0
# receiver [--port N] [--refuse S] [--broker-oin OIN]: starts the reference
# receiver on $R (the broker named by --broker-cert, or by OIN);
# RPID, RPORT, RLOG (receive.N.log)
receiver() {
	_receivers=$((_receivers + 1))
	RLOG=$T/receive.$_receivers.log
	local broker=(--broker-cert "$D/certs/server.crt")	# unless named by OIN
	[[ " $* " == *" --broker-oin "* ]] && broker=()
	launch "$RLOG" "$SCHAKEL" receive --dir "$R" --port 0 --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt" "${broker[@]}" "$@"
	RPID=$LPID
	RPORT=$LPORT
}

_serves=0
serve() {	# serve: starts the daemon; SPID, SLOG (serve.N.log), SPORT (the API's)
	_serves=$((_serves + 1))
	SLOG=$T/serve.$_serves.log
	launch "$SLOG" "$SCHAKEL" -D "$D" serve --port 0
	SPID=$LPID
	SPORT=$LPORT
}

# free_port: a port nothing listens on (a receiver's, stopped); FPORT
free_port() {
	launch "$T/probe.log" "$SCHAKEL" receive --dir "$T/probe" --port 0 \
		--cert "$D/certs/server.crt" --key "$D/certs/server.key" --ca "$D/certs/ca.crt" \
		--broker-cert "$D/certs/server.crt"
	FPORT=$LPORT
	stop "$LPID"
}

# --- the installation -------------------------------------------------------

# setup: a data directory with the PKI, GEEN_VERGUNNING for Westland and a
# quick [delivery]; $T is the test's directory, $R the receiver's.
setup() {
	T=${D%/data}
	cd "$T" || fail "no test directory"
	R=$T/received
	sk init >/dev/null || fail "init failed"
	cp -r "$PKI" "$D/certs"
	sed -i 's/^gemeenten =$/gemeenten = 1783/' "$D/schakel.conf"
	delivery_set backoff_initial 1
	delivery_set backoff_max 2
}

delivery_set() {	# delivery_set KEY VALUE: sets KEY in [delivery]
	sed -i "/^\[delivery\]/,/^\[/ s|^$1 =.*|$1 = $2|" "$D/schakel.conf"
	grep -qx "$1 = $2" "$D/schakel.conf" || fail "cannot set $1 in [delivery]"
}

# party OIN NAME KEY=VALUE...: adds [party.OIN]
party() {
	local oin=$1 name=$2 kv; shift 2
	{
		printf '\n[party.%s]\nname = %s\n' "$oin" "$name"
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
	} >>"$D/schakel.conf"
}

westland() {	# westland PORT: Westland, every rule, pushed to 127.0.0.1:PORT
	party $W "Gemeente Westland" gemeenten=1783 receives=all "push_url=https://127.0.0.1:$1/westland"
}

# signals_of_fixtures: the four example files ingested and matched
signals_of_fixtures() {
	ingest_examples || fail "ingesting the fixtures failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
}

deliveries() {	# deliveries [STATE [OIN]]: how many
	db "SELECT count(*) FROM delivery WHERE 1 = 1 ${1:+AND state = '$1'} ${2:+AND oin = '$2'}"
}
all_delivered() {
	[ "$(deliveries)" -gt 0 ] && [ "$(deliveries delivered)" -eq "$(deliveries)" ]
}
files() {	# the signals stored by the receiver
	find "$R" -maxdepth 1 -name '*.xml' ! -name '.*' 2>/dev/null | wc -l
}
is() {	# is WANT CMD...: CMD prints WANT
	[ "$("${@:2}")" = "$1" ]
}
at_least() {	# at_least N CMD...: CMD prints a number >= N
	[ "$("${@:2}")" -ge "$1" ]
}
stored_lines() {	# receiver logs' "verified and stored" lines
	cat "$T"/receive.*.log | grep -c 'verified and stored'
}
duplicate_lines() {
	cat "$T"/receive.*.log | grep -c 'duplicate, dropped'
}
# file_of OIN RULE: the receiver's files of OIN's deliveries of RULE
file_of() {
	db "SELECT d.message_id FROM delivery d JOIN signal s ON s.id = d.signal_id
	    WHERE d.oin = '$1' ${2:+AND s.rule = '$2'}" | sed "s|.*|$R/&.xml|"
}
# delivery_outcomes OUTCOME: "delivery" log entries with OUTCOME
delivery_outcomes() {
	logcount ".detail.outcome == \"$1\"" --kind delivery
}

# pinned_xmlsec FILE: the check docs/operations.md gives a receiver: signed
# with the broker's key, the certificate in the document ignored
pinned_xmlsec() {
	xmlsec1 --verify --pubkey-cert-pem "$D/certs/server.crt" --enabled-key-data key-name "$1"
}

# --- tests -------------------------------------------------------------------

test_fixture_signals_delivered_signed_valid_once() {
	setup
	receiver
	westland "$RPORT"
	signals_of_fixtures
	want=$(sk signals --format json | grep -c "\"$W\"")
	[ "$want" -eq 5 ] || fail "Westland is a recipient of $want signals, expected 5 of 6"
	[ "$(deliveries pending)" -eq "$want" ] || fail "$(deliveries pending) deliveries queued, expected $want"
	start=$(date +%s%N)
	serve
	until_ 20 all_delivered || fail "not all delivered in 20 s: $(deliveries delivered) of $(deliveries)"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	note "$want signals delivered $ms ms after the daemon was started"
	[ "$(files)" -eq "$want" ] || fail "$(files) files received, expected $want"
	[ "$(stored_lines)" -eq "$want" ] || fail "the receiver stored $(stored_lines) times, expected $want"
	[ "$(duplicate_lines)" -eq 0 ] || fail "a signal was sent twice"
	for f in $(file_of $W); do
		[ -f "$f" ] || fail "no file for delivery ${f##*/}"
		pinned_xmlsec "$f" >xmlsec.out 2>&1 \
			|| { cat xmlsec.out; fail "${f##*/} does not verify with xmlsec1"; }
		xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" "$f" >lint.out 2>&1 \
			|| { cat lint.out; fail "${f##*/} is not valid against schakel-signal.xsd"; }
	done
	# The file is the signal it says: one per signal of Westland.
	ids=$(for f in $(file_of $W); do xmllint --xpath 'string(/*[local-name()="signaal"]/*[local-name()="id"])' "$f"; echo; done | grep . | sort -u | wc -l)
	[ "$ids" -eq "$want" ] || fail "$ids different signals in the files, expected $want"
	sk deliveries >list || fail "schakel deliveries failed"
	[ "$(grep -c " delivered .* $W " list)" -eq "$want" ] || { cat list; fail "schakel deliveries does not show $want delivered"; }
	grep -q ' pending \| failed ' list && fail "schakel deliveries shows deliveries not delivered"
	[ "$(delivery_outcomes delivered)" -eq "$want" ] || fail "$(delivery_outcomes delivered) 'delivered' log entries, expected $want"
	sk log verify >/dev/null || fail "log verify failed"
}

# A signal that ends is pushed again, under a new message id, with
# <ended_on>: signed and valid like the first push.
test_ended_signals_are_pushed_again() {
	setup
	receiver
	westland "$RPORT"
	signals_of_fixtures
	serve
	until_ 20 all_delivered || fail "not all delivered in 20 s"
	[ "$(files)" -eq 5 ] || fail "$(files) files received, expected 5"
	# NLA-2026-000101 corrected: 2 persons found at 2671AB 10, not 9
	sed '0,/"aangetroffen_personen": 9/ s//"aangetroffen_personen": 2/' "$FIX/inspectie.json" \
		>fixed.json
	sk ingest inspectie fixed.json >/dev/null || fail "ingest failed"
	sk match --changed --as-of 2026-11-01 >out || fail "match --changed failed"
	grep -q "2 ended" out || fail "not 2 ended: $(cat out)"
	until_ 20 all_delivered || fail "the ended signals were not delivered in 20 s"
	[ "$(files)" -eq 7 ] || fail "$(files) files received, expected 7"
	n=0
	for f in "$R"/*.xml; do
		grep -q '<ended_on>2026-11-01</ended_on>' "$f" || continue
		n=$((n + 1))
		xmlsec1 --verify --trusted-pem "$D/certs/ca.crt" "$f" >xmlsec.out 2>&1 \
			|| { cat xmlsec.out; fail "${f##*/} does not verify with xmlsec1"; }
		xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" "$f" >lint.out 2>&1 \
			|| { cat lint.out; fail "${f##*/} is not valid against schakel-signal.xsd"; }
	done
	[ "$n" -eq 2 ] || fail "$n pushed documents say ended, expected 2"
	[ "$(delivery_outcomes delivered)" -eq 7 ] || fail "$(delivery_outcomes delivered) deliveries logged"
	sk log verify >/dev/null || fail "log verify failed"
}

test_bsn_only_for_the_grant_with_receive_bsn() {
	setup
	receiver
	westland "$RPORT"
	party $N "Nederlandse Arbeidsinspectie" receives=ADRES_AFWIJKING receive_bsn=true \
		"push_url=https://127.0.0.1:$RPORT/nla"
	signals_of_fixtures
	serve
	until_ 20 all_delivered || fail "not all delivered in 20 s: $(deliveries delivered) of $(deliveries)"
	[ "$(deliveries delivered $N)" -eq 1 ] || fail "the inspectorate got $(deliveries delivered $N) deliveries, expected 1"
	nla=$(file_of $N ADRES_AFWIJKING)
	[ -f "$nla" ] || fail "no file for the inspectorate's ADRES_AFWIJKING"
	grep -q '<bsn>999993653</bsn>' "$nla" || { cat "$nla"; fail "the inspectorate's file has no <bsn>999993653</bsn>"; }
	pinned_xmlsec "$nla" >/dev/null 2>&1 || fail "the file with the BSN does not verify"
	wl=$(file_of $W ADRES_AFWIJKING)
	[ -f "$wl" ] || fail "no file for Westland's ADRES_AFWIJKING"
	grep -q '<person>' "$wl" || fail "Westland's ADRES_AFWIJKING has no pseudonym"
	for f in $(file_of $W); do
		[ -f "$f" ] || fail "no file for delivery ${f##*/}"
		grep -q '<bsn>' "$f" && fail "Westland (receive_bsn = false) got a BSN in ${f##*/}"
	done
	grep -l '999993653' "$R"/*.xml | grep -qvx "$nla" && fail "the BSN is in another file than the inspectorate's"
	true
}

test_recipient_down_then_back_gets_everything_once() {
	setup
	free_port
	westland "$FPORT"
	signals_of_fixtures
	want=$(deliveries)
	serve
	waiting() {
		[ "$(db "SELECT count(*) FROM delivery WHERE state = 'pending' AND attempts >= 1
			 AND last_error <> ''")" -ge 1 ]
	}
	until_ 20 waiting || fail "no failed attempt recorded in 20 s"
	sk deliveries >list
	grep -q ' pending .*Could' list || { cat list; fail "schakel deliveries shows no pending delivery with its error"; }
	note "while the recipient is down: $(db "SELECT attempts FROM delivery" | paste -sd,) attempts; last error: $(db "SELECT last_error FROM delivery WHERE attempts > 0 LIMIT 1")"
	sleep 3	# a few more attempts against the closed port
	[ "$(deliveries delivered)" -eq 0 ] || fail "delivered while nothing listened"
	[ "$(deliveries failed)" -eq 0 ] || fail "a delivery failed for good while the recipient was down"
	retries=$(logcount '.detail.outcome == "retry"' --kind delivery)
	start=$(date +%s%N)
	receiver --port "$FPORT"
	[ "$RPORT" = "$FPORT" ] || fail "the receiver is on $RPORT, not $FPORT"
	until_ 20 all_delivered || fail "not all delivered 20 s after the recipient came back: $(deliveries delivered) of $want"
	note "$retries retries while down; all $want delivered $(( ($(date +%s%N) - start) / 1000000 )) ms after the recipient came back"
	[ "$(files)" -eq "$want" ] || fail "$(files) files received, expected $want"
	[ "$(stored_lines)" -eq "$want" ] || fail "stored $(stored_lines) times, expected $want"
	[ "$(duplicate_lines)" -eq 0 ] || fail "$(duplicate_lines) duplicates sent"
	[ "$(delivery_outcomes delivered)" -eq "$want" ] || fail "$(delivery_outcomes delivered) 'delivered' log entries"
}

test_400_fails_at_once_and_is_retried_by_hand() {
	setup
	receiver --refuse 400
	westland "$RPORT"
	signals_of_fixtures
	want=$(deliveries)
	serve
	until_ 20 is "$want" deliveries failed || fail "$(deliveries failed) of $want failed after 20 s"
	[ "$(db "SELECT count(*) FROM delivery WHERE attempts = 1")" -eq "$want" ] \
		|| fail "attempts: $(db "SELECT attempts FROM delivery" | paste -sd,), expected 1 each"
	[ "$(delivery_outcomes failed)" -eq "$want" ] || fail "$(delivery_outcomes failed) 'failed' log entries, expected $want"
	sk deliveries --failed >list || fail "deliveries --failed failed"
	[ "$(grep -c ' failed .*HTTP 400' list)" -eq "$want" ] || { cat list; fail "deliveries --failed does not list $want with HTTP 400"; }
	stop "$RPID"
	receiver --port "$RPORT"
	sleep 2
	[ "$(deliveries delivered)" -eq 0 ] || fail "a dead letter was sent again without a retry"
	one=$(db "SELECT min(id) FROM delivery")
	expect_rc 0 sk deliveries retry "$one" >out || fail "retry $one failed"
	contains out "1 delivery queued again"
	until_ 20 is delivered db "SELECT state FROM delivery WHERE id = $one" || fail "delivery $one not delivered after retry"
	sleep 1
	[ "$(deliveries delivered)" -eq 1 ] || fail "retry $one sent $(deliveries delivered) deliveries"
	[ "$(files)" -eq 1 ] || fail "$(files) files after retrying one"
	expect_rc 1 sk deliveries retry "$one" >out || fail "retrying a delivered delivery did not exit 1"
	contains out "no failed delivery $one"
	expect_rc 0 sk deliveries retry --all-failed >out || fail "retry --all-failed failed"
	contains out "$((want - 1)) deliveries queued again"
	until_ 20 all_delivered || fail "$(deliveries delivered) of $want delivered after retry --all-failed"
	[ "$(files)" -eq "$want" ] || fail "$(files) files received, expected $want"
	[ "$(duplicate_lines)" -eq 0 ] || fail "duplicates sent"
	sk deliveries --failed >list
	[ "$(wc -l <list)" -eq 1 ] || { cat list; fail "dead letters left"; }
	logj '.subject + " " + (.detail.deliveries | tostring)' --kind retry >retries
	{ grep -qx "$one 1" retries && grep -qx "all failed $((want - 1))" retries; } || fail "the retries are not in the log: $(cat retries)"
}

# A server answering every POST 503 with Retry-After: $1, on a free port.
retry_after_server() {
	cat >ra.py <<'PY'
import http.server, ssl, sys, time
ra, cert, key, ca = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        body = b'busy\n'
        self.send_response(503)
        self.send_header('Retry-After', ra)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        sys.stderr.write('%.3f 503 %s\n' % (time.time(), self.headers.get('X-Message-Id')))
        sys.stderr.flush()
    def log_message(self, *a):
        pass
# threads: the daemon has several deliveries under way at once (max_in_flight)
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
sys.stderr.write('retry-after server: listening on 127.0.0.1:%d\n' % srv.server_address[1])
sys.stderr.flush()
srv.serve_forever()
PY
	launch "$T/ra.log" python3 ra.py "$1" "$D/certs/server.crt" "$D/certs/server.key" "$D/certs/ca.crt"
}

test_503_is_retried_and_retry_after_respected() {
	setup
	delivery_set breaker_failures 10000	# each delivery's own backoff; the breaker is in faults.sh
	receiver --refuse 503
	westland "$RPORT"
	signals_of_fixtures
	want=$(deliveries)
	serve
	until_ 20 at_least 3 db "SELECT min(attempts) FROM delivery" \
		|| fail "attempts did not grow past 2: $(db "SELECT attempts FROM delivery" | paste -sd,)"
	[ "$(deliveries pending)" -eq "$want" ] || fail "503 did not leave the deliveries pending: $(db "SELECT state FROM delivery" | paste -sd,)"
	sk deliveries >list
	[ "$(grep -c ' pending .*HTTP 503' list)" -eq "$want" ] || { cat list; fail "deliveries does not show HTTP 503"; }
	note "after 503s (backoff 1-2 s): attempts $(db "SELECT attempts FROM delivery" | paste -sd,)"
	stop "$RPID"
	if command -v python3 >/dev/null; then
		# Retry-After: 4 where backoff_max is 2: the waits are 4 s at least.
		retry_after_server 4
		[ "$LPORT" -ne "$RPORT" ] && { sed -i "s|127.0.0.1:$RPORT/|127.0.0.1:$LPORT/|" "$D/schakel.conf"; kill -HUP "$SPID"; }
		PY=$LPID
		until_ 25 at_least 15 grep -c ' 503 ' "$T/ra.log" || fail "the daemon did not come to the Retry-After server"
		stop "$PY"
		gaps=$(awk '{ if ($3 in last) printf "%.1f\n", $1 - last[$3]; last[$3] = $1 }' "$T/ra.log" | sort -n | tr '\n' ' ')
		note "seconds between attempts of one delivery with Retry-After: 4: $gaps"
		[ -n "$gaps" ] || fail "no delivery was attempted twice"
		# next_at is kept in whole seconds (time(NULL) + 4, and due when
		# time(NULL) reaches it), so an attempt may come up to 1 s early;
		# without Retry-After the waits here would be 0.5-2 s.
		awk -v g="${gaps%% *}" 'BEGIN { exit !(g >= 3.0) }' \
			|| fail "Retry-After: 4 was not respected: $gaps"
		awk -v g="${gaps%% *}" 'BEGIN { exit !(g >= 3.95) }' \
			|| note "an attempt came ${gaps%% *} s after a Retry-After: 4 (whole-second next_at)"
		sed -i "s|127.0.0.1:$LPORT/|127.0.0.1:$RPORT/|" "$D/schakel.conf"
		kill -HUP "$SPID"
	else
		note "python3 missing: Retry-After not checked"
	fi
	[ "$(deliveries failed)" -eq 0 ] || fail "a delivery failed for good on 503"
	receiver --port "$RPORT"
	until_ 20 all_delivered || fail "$(deliveries delivered) of $want delivered after the recipient recovered"
	[ "$(files)" -eq "$want" ] || fail "$(files) files, expected $want"
	[ "$(duplicate_lines)" -eq 0 ] || fail "duplicates sent"
}

test_sigkill_mid_delivery_no_loss_no_duplicate_files() {
	setup
	# Many signals: 1,200 persons four to an address on 10 m2, so that
	# OVERBEWONING and GEEN_VERGUNNING fire for some 300 addresses each.
	"$ROOT/tests/tools/gen-brp.sh" 1200 >brp.xml
	{
		echo 'gemeentecode;nummeraanduiding_id;postcode;huisnummer;huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;vergunning_nummer;vergunning_geldig_tot'
		for a in $(seq 0 300); do
			echo "1783;;$((1000 + a))AA;$((1 + a % 7));;;Naaldwijk;10;woonfunctie;;;"
		done
	} >register.csv
	receiver
	westland "$RPORT"
	party $N "Nederlandse Arbeidsinspectie" receives=OVERBEWONING "push_url=https://127.0.0.1:$RPORT/nla"
	sk ingest brp brp.xml >/dev/null || fail "ingest brp failed"
	sk ingest huisvesting register.csv >/dev/null || fail "ingest huisvesting failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	want=$(deliveries)
	[ "$want" -ge 600 ] || fail "only $want deliveries queued"
	start=$(date +%s%N)
	serve
	until_ 30 at_least 20 files || fail "fewer than 20 files after 30 s"
	kill -KILL "$SPID"
	wait "$SPID" 2>/dev/null
	at_kill=$(files)
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	recorded=$(deliveries delivered)
	note "$want deliveries; killed after $at_kill files ($ms ms), $recorded recorded delivered"
	[ "$at_kill" -lt "$want" ] || fail "everything was delivered before the kill"
	[ "$recorded" -le "$at_kill" ] || fail "$recorded recorded delivered but only $at_kill files"
	start=$(date +%s%N)
	serve
	until_ 120 all_delivered || fail "$(deliveries delivered) of $want delivered 120 s after the restart"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	stop "$SPID"
	dups=$(duplicate_lines)
	note "the rest ($((want - at_kill))) delivered in $ms ms after the restart ($(( (want - at_kill) * 1000 / (ms + 1) ))/s); $dups duplicate(s) dropped by the receiver"
	[ "$(files)" -eq "$want" ] || fail "$(files) files, $want deliveries"
	db "SELECT message_id FROM delivery ORDER BY 1" >ids
	find "$R" -maxdepth 1 -name '*.xml' ! -name '.*' -printf '%f\n' | sed 's/\.xml$//' | sort >got
	cmp -s ids got || fail "the files are not the deliveries' message ids: $(diff ids got | head -5)"
	[ "$(stored_lines)" -eq "$want" ] || fail "the receiver stored $(stored_lines) times, expected $want"
	[ "$(find "$R" -maxdepth 1 -name '.*.tmp' | wc -l)" -eq 0 ] || fail "half-written files left"
	[ "$dups" -le 8 ] || fail "$dups duplicates: more than the deliveries in flight at the kill (max_in_flight 4 for each of 2 recipients)"
	[ "$(delivery_outcomes delivered)" -eq "$want" ] || fail "$(delivery_outcomes delivered) 'delivered' log entries, expected $want"
	sk log verify >/dev/null || fail "log verify failed after the kill"
}

# delivered_to_westland: the fixtures' signals delivered to a receiver (RPID,
# RPORT), the daemon stopped again
delivered_to_westland() {
	setup
	receiver
	westland "$RPORT"
	signals_of_fixtures
	serve
	until_ 20 all_delivered || fail "not all delivered"
	stop "$SPID"
}

# post FILE [MESSAGE-ID|-] [CERT]: POSTs FILE to the receiver with client
# certificate CERT (default server: the broker's; party-OIN: a party's);
# prints the status, body in ./resp
post() {
	local hdr=() c=${3:-server}
	[ "${2:--}" != - ] && hdr=(-H "X-Message-Id: $2")
	curl -s -o resp -w '%{http_code}' --cacert "$D/certs/ca.crt" \
		--cert "$D/certs/$c.crt" --key "$D/certs/$c.key" \
		-H 'Content-Type: application/xml' "${hdr[@]}" --data-binary "@$1" \
		"https://127.0.0.1:$RPORT/westland"
}

# forge SIGNED OUT OIN: SIGNED with <observed> changed and signed anew by
# the party OIN with its own certificate (of the same CA), as a party could
forge() {
	local kd='<X509Data/>' key="$D/certs/party-$3.key,$D/certs/party-$3.crt"
	perl -0pe 's|<observed>(\d+)</observed>|"<observed>".($1 + 7)."</observed>"|e;
		s|<DigestValue>[^<]*</DigestValue>|<DigestValue></DigestValue>|g;
		s|<SignatureValue>[^<]*</SignatureValue>|<SignatureValue></SignatureValue>|g;
		s|<X509Data>.*?</X509Data>|'"$kd"'|s' "$1" >template.xml
	xmlsec1 --sign --privkey-pem "$key" --output "$2" template.xml 2>/dev/null
}

# A signal a party re-signed with its own certificate is a valid signature
# of the CA, which is all `xmlsec1 --trusted-pem ca.crt` and the receiver
# used to ask.  Only the broker's signature counts now, and only the
# broker's connection: a party's push is refused however it is signed.
test_receiver_refuses_a_party_resigned_signal_and_a_party_push() {
	delivered_to_westland || return 1
	genuine=$(file_of $W OVERBEWONING | head -1)
	[ -f "$genuine" ] || fail "no signed file"
	forge "$genuine" forged.xml $W || fail "cannot re-sign the signal with Westland's key"
	grep -q "<observed>$(( $(grep -o '<observed>[0-9]*' "$genuine" | head -1 | tr -dc 0-9) + 7 ))</observed>" forged.xml || fail "the forgery did not change <observed>"
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" forged.xml 2>/dev/null || fail "the forgery is not valid"
	# The forgery is sound by the old rule: signed by a certificate of the CA.
	xmlsec1 --verify --trusted-pem "$D/certs/ca.crt" forged.xml >/dev/null 2>&1 || fail "the forgery does not even verify against the CA; the test would test nothing"
	before=$(files)
	[ "$(post forged.xml forged-1)" = 400 ] || fail "the forgery over the broker's connection: $(cat resp)"
	contains resp "not the broker's" || return 1
	note "re-signed by Westland: 400 $(cat resp)"
	[ "$(post "$genuine" party-push party-$W)" = 403 ] || fail "the genuine signal pushed by Westland: $(cat resp)"
	contains resp "is not the broker" || return 1
	note "pushed over Westland's connection: 403 $(cat resp)"
	[ "$(post forged.xml party-forged party-$W)" = 403 ] || fail "the forgery pushed by Westland: $(cat resp)"
	[ "$(files)" -eq "$before" ] || fail "a refused signal was stored"
	[ ! -e "$R/forged-1.xml" ] && [ ! -e "$R/party-push.xml" ] || fail "a refused message is on disk"
	[ "$(post "$genuine" genuine-1)" = 201 ] || fail "the broker's genuine push was refused: $(cat resp)"
	cmp -s "$genuine" "$R/genuine-1.xml" || fail "the genuine push was not stored as sent"
	# The documented check: the genuine file passes, the forgery does not.
	pinned_xmlsec "$genuine" >xmlsec.out 2>&1 || { cat xmlsec.out; fail "the documented xmlsec1 command rejects the genuine signal"; }
	pinned_xmlsec forged.xml >xmlsec.out 2>&1 && fail "the documented xmlsec1 command accepts the forgery"
	grep -q FAIL xmlsec.out || fail "xmlsec1 did not say FAIL: $(cat xmlsec.out)"
	stop "$RPID"
	# By OIN instead of by certificate: the same refusals.
	receiver --broker-oin 00000001000000000001
	[ "$(post forged.xml oin-forged)" = 400 ] || fail "--broker-oin: the forgery: $(cat resp)"
	contains resp "not the broker" || return 1
	[ "$(post "$genuine" oin-party party-$W)" = 403 ] || fail "--broker-oin: Westland's push: $(cat resp)"
	[ "$(post "$genuine" oin-genuine)" = 201 ] || fail "--broker-oin: the genuine push: $(cat resp)"
	[ ! -e "$R/oin-forged.xml" ] && [ ! -e "$R/oin-party.xml" ] ||
		fail "--broker-oin: a refused message is on disk"
}

test_receiver_needs_the_broker_named() {
	setup
	expect_rc 2 "$SCHAKEL" receive --dir "$T/r" --port 0 --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt" >out 2>&1 || return 1
	contains out "--broker-cert or --broker-oin is required" || return 1
	expect_rc 1 "$SCHAKEL" receive --dir "$T/r" --port 0 --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt" --broker-cert "$D/certs/server.crt" \
		--broker-oin $W >out 2>&1 || return 1
	contains out "is not the certificate of OIN $W" || return 1
}

test_receiver_refuses_unsigned_altered_and_unidentified() {
	delivered_to_westland || return 1
	signed=$(file_of $W OVERBEWONING | head -1)
	[ -f "$signed" ] || fail "no signed file"
	before=$(files)
	# Unsigned: the first <signaal> of `schakel signals --format xml`, alone.
	sk signals --format xml >all.xml || fail "signals --format xml failed"
	{
		echo '<?xml version="1.0" encoding="UTF-8"?>'
		awk '/^ <signaal>/ { on = 1; sub(/<signaal>/, "<signaal xmlns=\"urn:schakel:signal:1\">") }
		     on { print } /^ <\/signaal>/ { exit }' all.xml
	} >unsigned.xml
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" unsigned.xml 2>/dev/null \
		|| fail "the unsigned signal is not even valid; the test would not test the signature"
	[ "$(post unsigned.xml test-unsigned)" = 400 ] || fail "unsigned: $(cat resp)"
	note "unsigned: 400 $(cat resp)"
	# One byte changed after signing: the last digit of <observed> (a valid value still).
	off=$(grep -bo '<observed>[0-9]*' "$signed" | head -1 | awk -F: '{ print $1 + length($2) - 1 }')
	[ -n "$off" ] || fail "no <observed> in the signed file"
	d=$(dd if="$signed" bs=1 skip="$off" count=1 2>/dev/null)
	cp "$signed" altered.xml
	printf '%d' $(((d + 1) % 10)) | dd of=altered.xml bs=1 seek="$off" conv=notrunc 2>/dev/null
	[ "$(cmp -l "$signed" altered.xml | wc -l)" -eq 1 ] || fail "altered.xml differs in $(cmp -l "$signed" altered.xml | wc -l) bytes, not 1"
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" altered.xml 2>/dev/null || fail "the altered signal is not valid"
	[ "$(post altered.xml test-altered)" = 400 ] || fail "altered: $(cat resp)"
	note "one byte altered: 400 $(cat resp)"
	[ "$(post "$signed")" = 400 ] || fail "no X-Message-Id: $(cat resp)"
	contains resp "X-Message-Id"
	[ "$(post "$signed" 'bad id!')" = 400 ] || fail "X-Message-Id 'bad id!': $(cat resp)"
	[ "$(files)" -eq "$before" ] || fail "a refused signal was stored"
	[ "$(grep -c 'refused' "$RLOG")" -ge 3 ] || fail "the refusals are not in the receiver's log"
	# The untouched signed file under a new id is taken: the refusals were for what they changed.
	[ "$(post "$signed" test-control)" = 201 ] || fail "the signed file was refused: $(cat resp)"
	[ -f "$R/test-control.xml" ] || fail "the control was not stored"
}

# inbox OIN [ACCEPT]: GET /v1/signals?limit=1000 as OIN into ./inbox.OIN; fails unless 200
inbox() {
	local got
	got=$(curl -s -o "inbox.$1" -w '%{http_code}' --cacert "$D/certs/ca.crt" \
		--cert "$D/certs/party-$1.crt" --key "$D/certs/party-$1.key" ${2:+-H "Accept: $2"} \
		"https://127.0.0.1:$SPORT/v1/signals?limit=1000")
	[ "$got" = 200 ] || fail "the inbox of $1: $got $(cat "inbox.$1")"
}

# disclosures OIN: the disclosure entries with OIN as party, one line each:
# "SIGNAL VIA BSN FORMAT-OR-MESSAGE", sorted
disclosures() {
	logj "select(.party == \"$1\") | [.subject, .detail.via, (if .detail.bsn then \"bsn\" else
		\"no-bsn\" end), (.detail.format // .detail.message // \"\")] | join(\" \")" --kind disclosure | sort
}

# Every signal handed out is logged: per signal and recipient, inbox
# (JSON and XML) and push, with whether the BSN was in it; and inzage of the
# person lists each.  Westland reads its inbox as JSON with receive_bsn,
# Venlo as XML without, the inspectorate gets ADRES_AFWIJKING pushed with it.
test_every_disclosure_logged_with_its_bsn_flag_and_in_inzage() {
	setup
	receiver
	party $W "Gemeente Westland" gemeenten=1783 receives=all receive_bsn=true
	party $V "Gemeente Venlo" gemeenten=0983 receives=all
	party $N "Nederlandse Arbeidsinspectie" receives=ADRES_AFWIJKING receive_bsn=true \
		"push_url=https://127.0.0.1:$RPORT/nla"
	signals_of_fixtures
	aa=$(sk signals --format json --rule ADRES_AFWIJKING | jq -r .id)
	[ -n "$aa" ] || fail "no ADRES_AFWIJKING signal"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'disclosure'")" -eq 0 ] || fail "disclosures before anything was disclosed"
	serve
	until_ 20 all_delivered || fail "the push was not delivered"
	inbox $W
	inbox $V application/xml
	# What each got, from the answers themselves.
	jq -r '.signals[] | "\(.id) inbox \(if has("bsn") then "bsn" else "no-bsn" end) json"' "inbox.$W" | sort >want.$W
	xmllint --xpath '//*[local-name()="signaal"]/*[local-name()="id"]/text()' "inbox.$V" | tr -s ' \n' '\n' |
		grep . | sed 's/$/ inbox no-bsn xml/' | sort >want.$V
	grep -q 999993653 "inbox.$V" && fail "Venlo got the BSN"
	[ "$(wc -l <want.$W)" -ge 5 ] && [ "$(wc -l <want.$V)" -ge 2 ] || fail "$(wc -l <want.$W) and $(wc -l <want.$V) signals in the inboxes"
	grep -qx "$aa inbox bsn json" want.$W || fail "Westland's ADRES_AFWIJKING has no BSN: $(cat want.$W)"
	[ "$(grep -c ' bsn ' want.$W)" -eq 1 ] || fail "Westland has the BSN in other signals too"
	echo "$aa push bsn $(db "SELECT message_id FROM delivery WHERE oin = '$N'")" >want.$N
	grep -q '<bsn>999993653</bsn>' "$(file_of $N)" || fail "the push has no BSN"
	stop "$SPID"
	for who in $W $V $N; do
		disclosures $who >got.$who
		diff want.$who got.$who >diff.out || fail "the disclosures of $who are not what it got: $(cat diff.out)"
	done
	total=$(cat want.$W want.$V want.$N | wc -l)
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'disclosure'")" -eq "$total" ] || fail "not exactly $total disclosure entries"
	note "$total disclosure entries: $(wc -l <want.$W) Westland (JSON), $(wc -l <want.$V) Venlo (XML), 1 push"
	sk log verify >/dev/null || fail "log verify failed"
	# The person of ADRES_AFWIJKING: each disclosure of each of their signals.
	sk inzage 999993653 --format json >inzage.json || fail "inzage failed"
	jq -r '.exchanges[] | select(.kind == "disclosure") | "\(.signal) \(.party) \(.via)"' inzage.json | sort >inzage.got
	grep -qx "$aa $W inbox, with the BSN" inzage.got || fail "inzage does not list Westland's read: $(cat inzage.got)"
	grep -qx "$aa $V inbox, without the BSN" inzage.got || fail "inzage does not list Venlo's read: $(cat inzage.got)"
	grep -qx "$aa $N push, with the BSN" inzage.got || fail "inzage does not list the push: $(cat inzage.got)"
	# and nothing else than the log holds for those signals
	for sig in $(cut -d' ' -f1 inzage.got | sort -u); do
		[ "$(grep -c "^$sig " inzage.got)" -eq "$(db "SELECT count(*) FROM exlog WHERE kind = 'disclosure' AND subject = '$sig'")" ] ||
			fail "inzage lists $(grep -c "^$sig " inzage.got) disclosures of $sig, the log has more or fewer"
	done
	sk inzage 999993653 >inzage.txt || fail "inzage (text) failed"
	grep -q "^disclosure .*$aa .*$W (inbox, with the BSN)" inzage.txt || fail "the text inzage does not show the disclosure: $(grep disclosure inzage.txt | head -3)"
}

# --- deliveries in parallel ---------------------------------------------------
# The receiver with --delay holds each answer, and logs "ID: received at
# PATH, N open" when a request is in and "ID: answered STATUS" when it
# answers: concurrency is what the receiver saw open at once, not a time.

# max_open LOG [PATH]: the most requests open at once at the receiver that
# wrote LOG (to PATH only, with PATH)
max_open() {
	awk -v want="${2:-}" '
		/: received at / { id = $3; sub(/:$/, "", id); p = $6; sub(/,$/, "", p)
			path[id] = p; if (want == "" || p == want) { n++; if (n > m) m = n } }
		/: answered / { id = $3; sub(/:$/, "", id)
			if (id in path && (want == "" || path[id] == want)) n--; delete path[id] }
		END { print m + 0 }' "$1"
}
# once_each: every message id was stored by the receivers exactly once
once_each() {
	[ -z "$(cat "$T"/receive.*.log | sed -n 's/.*: \([^ ]*\): verified and stored.*/\1/p' | sort | uniq -d)" ] &&
		[ "$(duplicate_lines)" -eq 0 ] && [ "$(stored_lines)" -eq "$(deliveries)" ]
}

# deliver_held DELAY_MS: the fixtures' signals to the receivers (already in
# the configuration), answered DELAY_MS late; all delivered, the receiver stopped
deliver_held() {
	signals_of_fixtures
	serve
	until_ 60 all_delivered || fail "not all delivered in 60 s: $(deliveries delivered) of $(deliveries)"
	stop "$SPID"
	stop "$RPID"
	once_each || fail "a message was not stored exactly once: $(stored_lines) stored, $(duplicate_lines) duplicates, $(deliveries) deliveries"
	[ "$(files)" -eq "$(deliveries)" ] || fail "$(files) files for $(deliveries) deliveries"
}

test_parallel_to_one_recipient_up_to_its_limit() {
	setup
	receiver --delay 1500
	westland "$RPORT"	# max_in_flight not set: the default, 4
	deliver_held
	m=$(max_open "$RLOG" /westland)
	note "$(deliveries) deliveries to Westland, at most $m open at once at the receiver"
	[ "$(deliveries)" -gt 4 ] || fail "only $(deliveries) deliveries: too few to fill 4"
	[ "$m" -eq 4 ] || fail "at most $m deliveries open at once at the receiver, expected 4 (the default)"
	grep -q "at most 4 open at once" "$RLOG" || fail "the receiver did not count 4 at once: $(tail -1 "$RLOG")"
}

test_parallel_limit_per_party_and_all_recipients_at_once() {
	setup
	receiver --delay 1500
	westland "$RPORT"
	echo "max_in_flight = 2" >>"$D/schakel.conf"
	party $N "Nederlandse Arbeidsinspectie" receives=all "push_url=https://127.0.0.1:$RPORT/nla" \
		max_in_flight=3
	deliver_held
	w=$(max_open "$RLOG" /westland); n=$(max_open "$RLOG" /nla); all=$(max_open "$RLOG")
	note "Westland $(deliveries "" $W) deliveries, at most $w open; the inspectorate $(deliveries "" $N), at most $n; together at most $all"
	[ "$(deliveries "" $W)" -gt 2 ] && [ "$(deliveries "" $N)" -gt 3 ] || fail "too few deliveries to fill the limits"
	[ "$w" -eq 2 ] || fail "Westland (max_in_flight = 2) had $w open at once"
	[ "$n" -eq 3 ] || fail "the inspectorate (max_in_flight = 3) had $n open at once"
	[ "$all" -eq 5 ] || fail "$all open at once in all, expected 5: both recipients at once"
}

test_parallel_limit_1_is_one_at_a_time() {
	setup
	receiver --delay 700
	westland "$RPORT"
	echo "max_in_flight = 1" >>"$D/schakel.conf"
	deliver_held
	m=$(max_open "$RLOG")
	[ "$m" -eq 1 ] || fail "max_in_flight = 1, but $m deliveries open at once at the receiver"
	# one at a time, in order: the receiver got them in the outbox's order
	got=$(sed -n 's/.*: \([^ ]*\): received at .*/\1/p' "$RLOG" | tr '\n' ' ')
	want=$(db "SELECT message_id FROM delivery ORDER BY id" | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "not in the outbox's order: got $got, queued $want"
}

test_parallel_recipient_down_is_probed_one_at_a_time() {
	setup
	delivery_set breaker_failures 2
	receiver --refuse 503 --delay 800
	westland "$RPORT"
	signals_of_fixtures
	want=$(deliveries)
	serve
	until_ 20 at_least 1 db "SELECT count(*) FROM exlog WHERE kind = 'recipient_down'" ||
		fail "the recipient was not held down"
	# the four under way when it went down, then at least three probes
	until_ 30 at_least 7 grep -c ': answered 503' "$RLOG" || fail "not probed: $(grep -c ': answered 503' "$RLOG") answers"
	stop "$RPID"
	down=$RLOG
	# every request after the first four answers came alone
	probes=$(awk '/: answered 503/ { a++ } /: received at / && a >= 4 { print $NF == "open" ? $(NF - 1) : "?" }' "$down" | tr '\n' ' ')
	note "while down: the first burst at most $(max_open "$down") open; probes with open counts: $probes"
	[ -n "$probes" ] || fail "no probe after the first burst"
	for p in $probes; do [ "$p" = 1 ] || fail "a probe found $p requests open: $probes"; done
	# back up: the first answer ends the outage, then all are delivered once
	receiver --port "$RPORT" --delay 800
	until_ 40 all_delivered || fail "not all delivered after the recipient came back: $(deliveries delivered) of $want"
	stop "$SPID"
	stop "$RPID"
	first=$(grep -m1 ': received at ' "$RLOG")
	case $first in *", 1 open") ;; *) fail "the first probe to the recipient back up was not alone: $first" ;; esac
	second_at=$(grep -n ': received at ' "$RLOG" | sed -n '2s/:.*//p')
	answered_at=$(grep -n -m1 ': answered 201' "$RLOG" | cut -d: -f1)
	[ -z "$second_at" ] || [ "$answered_at" -lt "$second_at" ] ||
		fail "a second delivery started before the probe was answered"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'recipient_up'")" -eq 1 ] || fail "no single recipient_up entry"
	once_each || fail "not stored exactly once each"
}

tt "the fixtures' signals reach the receiver once each, signed and valid; deliveries and log say delivered" test_fixture_signals_delivered_signed_valid_once
tt "a signal that ends is pushed again, with ended_on, signed and valid" test_ended_signals_are_pushed_again
tt "the BSN only for the grant with receive_bsn = true" test_bsn_only_for_the_grant_with_receive_bsn
tt "a recipient down, then back: pending with the error, then everything exactly once" test_recipient_down_then_back_gets_everything_once
tt "400: failed at once (1 attempt), listed by --failed, sent again by retry ID and --all-failed" test_400_fails_at_once_and_is_retried_by_hand
tt "503: retried while pending, Retry-After respected, delivered once the recipient recovers" test_503_is_retried_and_retry_after_respected
tt "SIGKILL of the daemon mid-delivery: no loss, no duplicate files, the log verifies" test_sigkill_mid_delivery_no_loss_no_duplicate_files
tt "the receiver refuses an unsigned signal, a byte changed after signing, a missing X-Message-Id" test_receiver_refuses_unsigned_altered_and_unidentified
tt "the receiver refuses a signal a party re-signed and a party's push; the documented xmlsec1 command rejects the forgery" test_receiver_refuses_a_party_resigned_signal_and_a_party_push
tt "every disclosure is logged (inbox JSON and XML, push) with its BSN flag, and inzage lists each" test_every_disclosure_logged_with_its_bsn_flag_and_in_inzage
tt "the receiver will not start without the broker named, nor with a certificate not of --broker-oin" test_receiver_needs_the_broker_named
tt "in parallel: a recipient has up to max_in_flight (default 4) deliveries open at once, each stored once" test_parallel_to_one_recipient_up_to_its_limit
tt "in parallel: max_in_flight per party (2 and 3), both recipients at once (5 open)" test_parallel_limit_per_party_and_all_recipients_at_once
tt "in parallel: max_in_flight = 1 is one at a time, in the outbox's order" test_parallel_limit_1_is_one_at_a_time
tt "in parallel: a recipient held down is probed one delivery at a time, also when it is back" test_parallel_recipient_down_is_probed_one_at_a_time
