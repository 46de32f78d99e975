#!/bin/bash
# W3C Trace Context, end to end (issue 17 part 1): an upload with a
# traceparent continues that trace through its ingest, the match it causes,
# the signals it raises and their pushes (a traceparent header at the
# receiver) and inbox reads; `schakel log --trace` lists the exchange from
# upload to delivery across a restart of the daemon.  An invalid
# traceparent is ignored (a new trace); an upload without one starts one.
#
# Needs curl, sqlite3, jq.
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

MISSING=
for tool in curl sqlite3 jq; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
PKI=$TMP/pki
[ -n "$MISSING" ] || make_pki "$PKI" $W:Westland $N:NLA

TRACE=0af7651916cd43dd8448eb211c80319c
TP=00-$TRACE-b7ad6b7169203331-01

# setup: Westland supplies brp and is pushed to the receiver on $RPORT; the
# inspectorate supplies the rest.
setup() {
	serve_setup "$PKI"
	R=$T/received
	section_set delivery backoff_initial 1
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all \
		"push_url=https://127.0.0.1:$1/westland"
	party $N "Nederlandse Arbeidsinspectie" "supplies=inspectie, huisvesting" receives=all
}

receiver() {	# receiver: the reference receiver; RPID, RPORT, RLOG
	T=${D%/data}
	RLOG=$T/receive.log
	launch "$RLOG" "$SCHAKEL" receive --dir "$T/received" --port 0 \
		--cert "$PKI/server.crt" --key "$PKI/server.key" --ca "$PKI/ca.crt" --broker-cert "$PKI/server.crt"
	RPID=$LPID
	RPORT=$LPORT
}

upload() {	# upload WHO ADAPTER FILE [CURL ARGS]: a 200 upload, its answer in body
	local who=$1 adapter=$2 file=$3
	shift 3
	want 200 "$who" "/v1/uploads/$adapter" --data-binary "@$file" "$@"
}

kinds_of() {	# kinds_of TRACE: the kinds of that trace's log entries, one each, sorted
	sk log --trace "$1" --format json | jq -r .kind | sort -u | tr '\n' ' '
}

delivered_all() {
	[ "$(db "SELECT count(*) FROM delivery WHERE state != 'delivered'")" -eq 0 ]
}

test_upload_to_delivery_one_trace_across_a_restart() {
	receiver
	setup "$RPORT"
	serve
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
	stop "$SPID"	# the uploads' signals wait in the outbox
	serve
	upload $W brp "$FIX/brp-npsLa01.xml" -H "traceparent: $TP"
	[ "$(jq -r .trace_id body)" = "$TRACE" ] || fail "the upload answered trace $(jq -r .trace_id body)"
	stop "$SPID"
	n=$(db "SELECT count(*) FROM signal WHERE trace_id = '$TRACE'")
	[ "$n" -gt 0 ] || fail "no signal carries the upload's trace"
	serve	# a restart: the pushes go out from the outbox
	until_ 30 delivered_all || fail "not all delivered: $(db 'SELECT state, count(*) FROM delivery GROUP BY 1')"
	stop "$SPID"
	k=$(kinds_of $TRACE)	# the BRP data ends some signals of the earlier uploads
	[ "$k" = "delivery disclosure ended match reject signal upload " ] || fail "the trace's entries are of kinds '$k'"
	[ "$(sk log --trace $TRACE --kind delivery | grep -c delivery)" -eq "$n" ] ||
		fail "not one delivery entry per signal of the trace: $(sk log --trace $TRACE)"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'upload' AND trace_id = '$TRACE'")" -eq 1 ] ||
		fail "not one upload entry in the trace"
	# The receiver saw the trace, with a span of the push's own.
	[ "$(grep -c "traceparent 00-$TRACE-[0-9a-f]\{16\}-01\$" "$RLOG")" -eq "$n" ] ||
		{ cat "$RLOG"; fail "not $n pushes with the trace's traceparent at the receiver"; }
	grep "traceparent 00-$TRACE-b7ad6b7169203331-" "$RLOG" && fail "a push re-used the caller's span id"
	# The uploads without traceparent each started a trace of their own.
	[ "$(db "SELECT count(DISTINCT trace_id) FROM exlog WHERE kind = 'upload'")" -eq 3 ] ||
		fail "the three uploads are not three traces"
	[ "$(db "SELECT count(*) FROM exlog WHERE trace_id IS NULL OR length(trace_id) != 32")" -eq 0 ] ||
		fail "an entry has no trace"
	sk log verify >/dev/null || fail "log verify failed"
}

test_invalid_traceparent_ignored_new_trace() {
	setup 1
	serve
	for bad in "00-${TRACE^^}-b7ad6b7169203331-01" "00-00000000000000000000000000000000-b7ad6b7169203331-01" \
		   "00-$TRACE-0000000000000000-01" "ff-$TRACE-b7ad6b7169203331-01" "00-$TRACE-b7ad6b7169203331-01-x" \
		   "00-$TRACE-b7ad6b716920333-01" "garbage"; do
		upload $N huisvesting "$FIX/huisvesting.csv" -H "traceparent: $bad"
		got=$(jq -r .trace_id body)
		[ "$got" != "$TRACE" ] || fail "'$bad' was continued"
		[[ $got =~ ^[0-9a-f]{32}$ ]] || fail "'$bad': a trace id '$got'"
	done
	# a later version with a field more is read as level 1 says
	upload $N huisvesting "$FIX/huisvesting.csv" -H "traceparent: 01-$TRACE-b7ad6b7169203331-01-later"
	[ "$(jq -r .trace_id body)" = "$TRACE" ] || fail "version 01 with a field more was not continued"
	[ "$(db "SELECT count(DISTINCT trace_id) FROM exlog WHERE kind = 'upload'")" -eq 8 ] ||
		fail "not eight traces for eight uploads"
}

test_inbox_sends_traceparent_and_trace_ids() {
	setup 1
	serve
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
	upload $W brp "$FIX/brp-npsLa01.xml" -H "traceparent: $TP"
	want 200 $W "/v1/signals?limit=500" -D headers
	jq -e '[.signals[] | .trace_id | test("^[0-9a-f]{32}$")] | all' body >/dev/null ||
		fail "a signal in the inbox has no trace_id: $(head -c 300 body)"
	id=$(db "SELECT seq FROM signal WHERE trace_id = '$TRACE' ORDER BY seq LIMIT 1")
	[ -n "$id" ] || fail "no signal of the trace"
	want 200 $W "/v1/signals?after=$((id - 1))&limit=1" -D headers
	grep -qi "^traceparent: 00-$TRACE-[0-9a-f]\{16\}-01" headers ||
		{ cat headers; fail "no traceparent of the signal's trace on a one-signal page"; }
	want 200 $W "/v1/signals?after=$((id - 1))&limit=1" -H "Accept: application/xml" -D headers
	grep -qi "^traceparent: 00-$TRACE-" headers || { cat headers; fail "no traceparent on the XML inbox"; }
}

test_cli_ingest_traceparent_and_log_trace() {
	sk init >/dev/null
	expect_rc 0 sk ingest --traceparent "$TP" huisvesting "$FIX/huisvesting.csv"
	expect_rc 0 sk ingest huisvesting "$FIX/huisvesting.csv"
	[ "$(kinds_of $TRACE)" = "ingest " ] || fail "the ingest with --traceparent: $(kinds_of $TRACE)"
	[ "$(db "SELECT count(DISTINCT trace_id) FROM exlog")" -eq 2 ] || fail "the second ingest is not a trace of its own"
	expect_rc 2 sk ingest --traceparent "00-$TRACE-0000000000000000-01" huisvesting "$FIX/huisvesting.csv"
	expect_rc 2 sk log --trace not-a-trace
	sk log --help | grep -q -- '--trace ID' || fail "log --help does not name --trace"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'match' AND length(trace_id) = 32 AND trace_id != '$TRACE'")" -eq 1 ] ||
		fail "a match by hand is not a trace of its own"
	sk log verify >/dev/null || fail "log verify failed"
}

tt "an upload's traceparent: its entries, match, signals and pushes in one trace, log --trace across a restart" test_upload_to_delivery_one_trace_across_a_restart
tt "an invalid traceparent is ignored and a new trace started; a later version is read" test_invalid_traceparent_ignored_new_trace
tt "the inbox: each signal's trace_id; a traceparent when the page has one trace" test_inbox_sends_traceparent_and_trace_ids
tt "schakel ingest --traceparent, a new trace without, log --trace; match by hand a trace of its own" test_cli_ingest_traceparent_and_log_trace
exit $((_failed > 0))
