#!/bin/bash
# The operator's features, end to end: `schakel log` and its filters,
# --follow and `log verify` with signed checkpoints; /metrics after a known
# sequence of uploads and deliveries; /healthz; retention (`schakel purge`);
# access requests (`schakel inzage`); the daemon's structured logging.
# Servers run on 127.0.0.1 with --port 0 and [admin] port = 0.
#
# Needs curl, openssl, jq and sqlite3; a test is skipped when one is missing.
. "$(dirname "$0")/lib.sh"
. "$E2E/operator/common.sh"

TODAY=$(date -u +%F)
day() {	# day N: the date N days after today
	date -u -d "$TODAY + $1 days" +%F
}

# --- the log and its filters -------------------------------------------------
#
# One log of known content, built once: the four fixtures ingested by hand
# (one BRP record rejected), one file refused whole, a match (6 signals, 5
# of them for Westland), then the daemon delivering Westland's 5 signals to
# a receiver and refusing one upload (Venlo may not supply inspectie, 403).
#
#   reject 2, ingest 4, signal 6, match 1   before T1 (13 entries)
#   delivery 5, refusal 1                   after T1 (6 entries)
LOGFIX=$TMP/logfix

test_log_fixture_has_the_known_entries() {
	mkdir -p "$LOGFIX"
	D=$LOGFIX/data
	setup
	receiver
	parties "https://127.0.0.1:$RPORT/westland"
	ingest_examples || fail "ingesting the fixtures failed"
	expect_rc 1 sk ingest brp "$E2E/bad/truncated.xml" >/dev/null || fail "the truncated file was not refused"
	sk match >/dev/null || fail "match failed"
	sleep 1.1
	date -u +%Y-%m-%dT%H:%M:%S >"$LOGFIX/t1"
	sleep 1.1
	serve
	until_ 20 all_delivered_to $W || fail "Westland's deliveries not delivered in 20 s"
	want 403 $V /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json"
	stop "$SPID"
	db "SELECT kind || ' ' || count(*) FROM exlog GROUP BY kind ORDER BY kind" | tr '\n' ',' >kinds
	[ "$(cat kinds)" = "delivery 5,disclosure 5,ingest 4,match 1,refusal 1,reject 2,signal 6," ] ||
		fail "the log holds $(cat kinds)"
	touch "$LOGFIX/ready"
}

# sel N ARGS...: `schakel log --format json ARGS` must print N lines, each
# valid JSON with seq, at, kind and hash; the lines are in ./sel.out.
sel() {
	local n=$1; shift
	"$SCHAKEL" -D "$LOGFIX/data" log --format json "$@" >sel.out 2>sel.err ||
		fail "log $* failed: $(cat sel.err)"
	if [ -s sel.out ]; then
		jq -e 'has("seq") and has("at") and has("kind") and (.hash | test("^[0-9a-f]{64}$"))' \
			sel.out >sel.jq 2>&1 || fail "log $*: a line is not valid JSON with seq/at/kind/hash: $(head -3 sel.out)"
		[ "$(grep -cx true sel.jq)" -eq "$(wc -l <sel.out)" ] || fail "log $*: not one JSON value per line"
	fi
	[ "$(wc -l <sel.out)" -eq "$n" ] ||
		fail "log $* selected $(wc -l <sel.out) entries, expected $n: $(jq -c '[.seq, .kind, .party]' sel.out | tr '\n' ' ')"
}

# only FILTER VALUE: every selected line has FILTER (jq -r) equal to VALUE.
only() {
	local got
	got=$(jq -r "$1" sel.out | sort -u | tr '\n' ' ')
	[ "$got" = "$2 " ] || fail "$1 of the selected entries: '$got', expected only '$2'"
}

fixture() {	# the log fixture is there, or this test fails
	[ -f "$LOGFIX/ready" ] || fail "no log fixture (its test failed)"
	cd "${D%/data}" || fail "no test directory"
}

test_log_kind_filter() {
	fixture
	sel 24
	for kn in signal:6 ingest:4 reject:2 match:1 delivery:5 disclosure:5 refusal:1 feedback:0 pull:0 upload:0; do
		sel "${kn#*:}" --kind "${kn%:*}"
		[ "${kn#*:}" -eq 0 ] || only .kind "${kn%:*}"
	done
	grep -q '"place":"line 113 (object 9)"' <("$SCHAKEL" -D "$LOGFIX/data" log --format json --kind reject) ||
		fail "--kind reject lacks the rejected record"
}

test_log_party_filter() {
	fixture
	# Venlo: its refused upload, and the two signals it is a recipient of.
	sel 3 --party $V
	[ "$(grep -c '"kind":"refusal"' sel.out)" -eq 1 ] || fail "--party Venlo lacks its refusal"
	[ "$(grep -c '"kind":"signal"' sel.out)" -eq 2 ] || fail "--party Venlo: not its 2 signals"
	grep -q "\"party\":\"$V\".*\"status\":403" sel.out || fail "the refusal is not Venlo's 403"
	# Westland: 5 deliveries to it (each a disclosure too) and the 5 signals for it.
	sel 15 --party $W
	[ "$(grep -c '"kind":"delivery"' sel.out)" -eq 5 ] || fail "--party Westland: not 5 deliveries"
	[ "$(grep -c '"kind":"disclosure"' sel.out)" -eq 5 ] || fail "--party Westland: not 5 disclosures"
	sel 5 --party $N
	only .kind signal
	sel 0 --party 00000009999999999999
}

test_log_source_filter() {
	fixture
	sel 4 --source brp	# two ingests, a rejected record, the refused file
	only .detail.adapter brp
	[ "$(grep -c '"kind":"ingest"' sel.out)" -eq 2 ] || fail "--source brp: not 2 ingests"
	grep -q '"place":"file"' sel.out || fail "--source brp lacks the refused file"
	sel 1 --source huisvesting
	only .kind ingest
	sel 1 --source inspectie
	grep -q '"accepted":5' sel.out || fail "--source inspectie is not the ingest of 5"
	sel 0 --source nosuch
}

test_log_recipient_filter() {
	fixture
	sel 15 --recipient $W	# 5 deliveries to Westland, their 5 disclosures, its 5 signals
	[ "$(grep -c '"kind":"delivery"' sel.out)" -eq 5 ] || fail "--recipient Westland: not 5 deliveries"
	[ "$(jq -r 'select(.kind == "disclosure") | "\(.detail.via) \(.detail.bsn)"' sel.out | sort | uniq -c | xargs)" = "5 push false" ] ||
		fail "--recipient Westland: not 5 push disclosures without the BSN"
	[ "$(jq -r 'select(.kind == "delivery") | .detail.recipient' sel.out | sort -u)" = $W ] ||
		fail "--recipient Westland: a delivery to another"
	sel 2 --recipient $V	# its signals, not its refusal
	only .kind signal
	jq -se "all(.[]; .detail.recipients | index(\"$V\"))" sel.out >/dev/null || fail "--recipient Venlo: a signal not for Venlo"
	sel 5 --recipient $N
	only .kind signal
}

test_log_status_filter() {
	fixture
	sel 5 --status delivered
	only .kind delivery
	only .detail.outcome delivered
	sel 5 --status 201	# the receiver's answer
	only .kind delivery
	sel 1 --status 403
	only .kind refusal
	grep -q "\"party\":\"$V\"" sel.out || fail "--status 403 is not Venlo's refusal"
	sel 0 --status failed
	sel 0 --status 503
}

test_log_time_range_filter() {
	fixture
	t1=$(cat "$LOGFIX/t1")
	sel 11 --since "$t1"	# what the daemon did
	[ "$(jq -r .kind sel.out | sort | uniq -c | xargs)" = "5 delivery 5 disclosure 1 refusal" ] ||
		fail "--since $t1: $(jq -r .kind sel.out | sort | uniq -c | xargs)"
	sel 13 --until "$t1"	# what was done by hand before
	jq -se 'all(.[]; .kind != "delivery" and .kind != "refusal" and .kind != "disclosure")' sel.out >/dev/null || fail "--until $t1 has daemon entries"
	sel 0 --since "$t1" --until "$t1"
	sel 24 --since "$TODAY"
	sel 0 --until "$(day -1)"
	sel 0 --since "$(day 1)"
	sel 13 --since "$TODAY" --until "${t1}Z"
	# A window of one second: the entries of that second, no more.
	first=$(jq -r 'select(.kind == "delivery") | .at' <("$SCHAKEL" -D "$LOGFIX/data" log --format json) | head -1)
	n=$(db_fix "SELECT count(*) FROM exlog WHERE substr(at, 1, 19) = '${first:0:19}'")
	sel "$n" --since "${first:0:19}" --until "${first:0:19}"
}

db_fix() {
	(D=$LOGFIX/data; db "$@")
}

test_log_id_filter() {
	fixture
	mid=$(db_fix "SELECT message_id FROM delivery ORDER BY id LIMIT 1")
	sid=$(db_fix "SELECT signal_id FROM delivery ORDER BY id LIMIT 1")
	[ -n "$mid" ] && [ -n "$sid" ] || fail "no delivery in the fixture"
	sel 1 --id "$mid"
	only .kind delivery
	only .subject "$mid"
	sel 3 --id "$sid"	# the signal, its delivery and its disclosure
	[ "$(jq -r .kind sel.out | sort | xargs)" = "delivery disclosure signal" ] || fail "--id SIGNAL: $(jq -r .kind sel.out | xargs)"
	# An ingest number: the ingest and the record rejected in it.
	sel 2 --id 1
	[ "$(jq -r .kind sel.out | sort | xargs)" = "ingest reject" ] || fail "--id 1: $(jq -r .kind sel.out | xargs)"
	only .detail.ingest 1
	sel 1 --id 4
	only .detail.adapter inspectie
	sel 0 --id nosuch
}

test_log_filters_combine_and_table_format() {
	fixture
	sel 5 --kind delivery --recipient $W --status delivered --since "$(cat "$LOGFIX/t1")"
	sel 0 --kind signal --recipient $V --source brp
	sel 1 --kind signal --recipient $V --party $V --id "$(db_fix "SELECT id FROM signal WHERE rule = 'OVERBEWONING' AND addr LIKE '5911AA%'")"
	"$SCHAKEL" -D "$LOGFIX/data" log --kind delivery >table || fail "log --kind delivery failed"
	head -1 table | grep -q '^ *SEQ  *AT  *KIND  *PARTY  *SUBJECT  *DETAIL$' || fail "no table header: $(head -1 table)"
	[ "$(wc -l <table)" -eq 6 ] || fail "the table has $(wc -l <table) lines, expected a header and 5"
	[ "$(grep -c " delivery  *$W " table)" -eq 5 ] || { cat table; fail "the table does not show 5 deliveries to Westland"; }
	expect_rc 2 "$SCHAKEL" -D "$LOGFIX/data" log --format xml >/dev/null || fail "--format xml was accepted"
}

test_log_follow_prints_an_entry_appended_later() {
	setup
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest failed"
	bg timeout 8 "$SCHAKEL" -D "$D" log --follow --format json --kind ingest >follow.out 2>follow.err
	fpid=$BPID
	until_ 5 test -s follow.out || fail "--follow printed nothing of the existing log: $(cat follow.err)"
	[ "$(wc -l <follow.out)" -eq 1 ] || fail "--follow printed $(wc -l <follow.out) lines before the ingest"
	sleep 1.2
	# A BRP file: an ingest entry (shown) and a rejected record (not an ingest).
	sk ingest brp "$FIX/brp-npsLa01.xml" >/dev/null
	lines_ge() { [ "$(wc -l <follow.out)" -ge "$1" ]; }
	until_ 5 lines_ge 2 || fail "--follow did not print the new ingest within 5 s"
	kill -0 "$fpid" 2>/dev/null || fail "--follow ended after printing"
	wait "$fpid"
	rc=$?
	[ "$rc" -eq 124 ] || fail "--follow ended by itself (exit $rc) before the timeout"
	[ "$(wc -l <follow.out)" -eq 2 ] || fail "--follow printed $(wc -l <follow.out) lines: $(cat follow.out)"
	jq -e . follow.out >/dev/null || fail "--follow printed a line that is not JSON"
	tail -1 follow.out | jq -e '.kind == "ingest" and .detail.adapter == "brp" and .detail.accepted == 8' >/dev/null ||
		fail "the followed entry is not the BRP ingest: $(tail -1 follow.out)"
	[ "$(tail -1 follow.out | jq .seq)" -eq "$(db "SELECT max(seq) FROM exlog WHERE kind = 'ingest'")" ] ||
		fail "the followed entry is not the last ingest"
}

# --- log verify --------------------------------------------------------------

test_log_verify_names_a_tampered_entry() {
	setup
	ingest_examples || fail "ingest failed"
	sk match >/dev/null || fail "match failed"
	expect_rc 0 sk log verify >out || fail "log verify failed on an untouched log"
	contains out "exchange log intact: 12 entries"
	contains out "no signed checkpoint yet"
	# The append-only trigger stops a plain UPDATE.
	db "UPDATE exlog SET detail = '{}' WHERE seq = 3" 2>err && fail "an UPDATE of the log was allowed"
	grep -q 'append-only' err || fail "the trigger did not say append-only: $(cat err)"
	# Someone with the database file drops it and changes 6 accepted into 7.
	unguard_log
	db "UPDATE exlog SET detail = replace(detail, '\"accepted\":6', '\"accepted\":7') WHERE seq = 4"
	[ "$(sk log --format json | jq 'select(.seq == 4) | .detail.accepted')" = 7 ] || fail "the tampering did not take"
	expect_rc 1 sk log verify >out || fail "log verify did not exit 1 on a changed entry"
	grep -q '^exchange log BROKEN at entry 4: its content does not match its hash' out ||
		fail "log verify did not name entry 4"
	# Re-hashed too: then the next entry's link does not fit.
	row=$(db -separator '|' "SELECT prev, seq, at, kind, coalesce(party, ''), coalesce(subject, ''), coalesce(trace_id, ''), detail FROM exlog WHERE seq = 4")
	IFS='|' read -r prev seq at kind party subject trace detail <<<"$row"
	# since migration 10 an entry's trace id is hashed after its detail
	hash=$(printf '%s\n%s\n%s\n%s\n%s\n%s\n%s%s' "$prev" "$seq" "$at" "$kind" "$party" "$subject" "$detail" "${trace:+$'\n'$trace}" | sha256sum | cut -c1-64)
	db "UPDATE exlog SET hash = '$hash' WHERE seq = 4"
	expect_rc 1 sk log verify >out || fail "log verify did not exit 1 on a re-hashed entry"
	grep -q '^exchange log BROKEN at entry 5: its link to entry 4 does not match' out ||
		fail "log verify did not name the link of entry 5"
}

test_log_verify_reports_a_missing_tail_after_a_checkpoint() {
	setup
	ingest_examples || fail "ingest failed"
	sk match >/dev/null || fail "match failed"
	serve
	stop "$SPID"	# the daemon signs the head on its way out
	expect_rc 0 sk log verify >out || fail "log verify failed"
	contains out "proven by 1 signed checkpoint, the last at entry 12"
	unguard_log
	db "DELETE FROM exlog WHERE seq = 12"
	expect_rc 1 sk log verify >out || fail "log verify did not exit 1 without the last entry"
	grep -q '^exchange log BROKEN at entries after 11 are missing: checkpoint of .* signs entry 12' out ||
		fail "log verify did not report the missing tail"
}

test_checkpoints_signed_under_serve_and_a_forged_one_refused() {
	setup
	parties
	conf_set log checkpoint_interval 1
	serve
	upload $W brp "$FIX/brp-npsLa01.xml"
	sleep 2.2
	upload $N huisvesting "$FIX/huisvesting.csv"
	sleep 2.2
	until_ 5 grep -q 'signed a checkpoint' "$SLOG" || fail "the daemon logged no checkpoint"
	head=$(db "SELECT max(seq) FROM exlog")
	signed_head() { [ "$(db "SELECT max(seq) FROM checkpoint")" = "$head" ]; }
	until_ 5 signed_head || fail "the head $head was not signed in 5 s"
	cps=$(db "SELECT count(*) FROM checkpoint")
	[ "$cps" -ge 2 ] || fail "$cps checkpoint(s) after two uploads 2 s apart"
	expect_rc 0 sk log verify >out || fail "log verify failed"
	contains out "proven by $cps signed checkpoints, the last at entry $head ("
	grep -q 'not yet signed' out && fail "log verify says entries are not signed"
	note "$cps checkpoints signed with checkpoint_interval = 1 over ~5 s; head $head"
	stop "$SPID"
	# One byte of the first signature changed.
	if [ "$STORE" = sqlite ]; then
		db "UPDATE checkpoint SET signature = substr(signature, 1, length(signature) - 1) ||
		    CASE WHEN substr(signature, -1) = X'00' THEN X'01' ELSE X'00' END
		    WHERE seq = (SELECT min(seq) FROM checkpoint)"
	else
		db "UPDATE checkpoint SET signature = set_byte(signature, length(signature) - 1,
		    get_byte(signature, length(signature) - 1) # 1) WHERE seq = (SELECT min(seq) FROM checkpoint)"
	fi
	first=$(db "SELECT min(seq) FROM checkpoint")
	expect_rc 1 sk log verify >out || fail "log verify accepted a changed signature"
	grep -q "^exchange log BROKEN at checkpoint of .* (entry $first): " out || fail "log verify did not name the checkpoint"
	# A checkpoint made with another key for the same text is no better.
	db "DELETE FROM checkpoint"
	at=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
	hash=$(db "SELECT hash FROM exlog WHERE seq = $head")
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out forger.key 2>/dev/null
	openssl req -x509 -new -key forger.key -subj "/CN=localhost" -days 30 -out forger.crt 2>/dev/null
	printf 'schakel-checkpoint\n%s\n%s\n%s' "$head" "$hash" "$at" >cp.txt
	openssl dgst -sha256 -sign forger.key -out cp.sig cp.txt || fail "cannot sign"
	db "INSERT INTO checkpoint VALUES ($head, '$hash', '$at', X'$(xxd -p cp.sig | tr -d '\n')', '$(cat forger.crt)')"
	expect_rc 1 sk log verify >out || fail "log verify accepted a checkpoint signed by a stranger"
	grep -q "^exchange log BROKEN at checkpoint of $at (entry $head): " out || fail "log verify did not name the forged checkpoint"
}

# --- metrics -------------------------------------------------------------

test_metrics_exact_after_known_uploads_and_deliveries() {
	setup
	receiver
	good=$RPORT
	receiver --refuse 503
	busy=$RPORT
	parties "https://127.0.0.1:$good/westland" "https://127.0.0.1:$busy/nla"
	# One attempt each: a 503 means a wait of half an hour or more.
	conf_set delivery backoff_initial 3600
	conf_set delivery backoff_max 3600
	serve
	scrape
	[ "$(metric schakel_log_entries)" = 0 ] || fail "schakel_log_entries $(metric schakel_log_entries) at the start"
	grep -q '^schakel_http_requests_total' metrics && fail "requests counted before any"
	upload $W brp "$FIX/brp-npsLa01.xml"
	json '.accepted == 8 and .rejected == 1'
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
	want 400 $W /v1/uploads/brp --data-binary "@$E2E/bad/truncated.xml"
	want 200 $W /v1/signals
	until_ 20 all_delivered_to $W || fail "Westland's deliveries not delivered in 20 s"
	until_ 20 all_attempted $N || fail "the inspectorate's deliveries not all attempted in 20 s"
	sleep 0.5
	scrape
	metric_is() {	# metric_is 'NAME{LABELS}' VALUE
		[ "$(metric "$1")" = "$2" ] || fail "$1 is '$(metric "$1")', expected $2"
	}
	metric_is 'schakel_records_total{adapter="brp",outcome="accepted"}' 8
	metric_is 'schakel_records_total{adapter="brp",outcome="rejected"}' 1
	metric_is 'schakel_records_total{adapter="huisvesting",outcome="accepted"}' 6
	metric_is 'schakel_records_total{adapter="huisvesting",outcome="rejected"}' 0
	metric_is 'schakel_records_total{adapter="inspectie",outcome="accepted"}' 5
	metric_is 'schakel_records_total{adapter="inspectie",outcome="rejected"}' 0
	[ "$(grep -c '^schakel_records_total' metrics)" -eq 6 ] || fail "other schakel_records_total samples"
	metric_is 'schakel_inputs_refused_total{adapter="brp"}' 1
	# Signals per rule: as `schakel signals` counts them.
	sk signals --format json | jq -r .rule | sort | uniq -c | awk '{ print "schakel_signals_total{rule=\"" $2 "\"} " $1 }' >want.sig
	grep '^schakel_signals_total' metrics | sort >got.sig
	[ -s want.sig ] || fail "no signals"
	diff want.sig got.sig >/dev/null || fail "signals per rule: $(cat got.sig | xargs), expected $(cat want.sig | xargs)"
	note "signals as of today: $(awk '{ n += $2 } END { print n }' want.sig) ($(sed 's/.*rule="\([A-Z_]*\)"} /\1=/' want.sig | xargs))"
	nw=$(deliveries '' $W)
	nn=$(deliveries '' $N)
	[ "$nw" -gt 0 ] && [ "$nn" -gt 0 ] || fail "deliveries: $nw to Westland, $nn to the inspectorate"
	metric_is "schakel_delivery_attempts_total{recipient=\"$W\",outcome=\"delivered\"}" "$nw"
	metric_is "schakel_delivery_attempts_total{recipient=\"$N\",outcome=\"retry\"}" "$nn"
	[ "$(grep -c '^schakel_delivery_attempts_total' metrics)" -eq 2 ] || fail "other delivery outcomes: $(grep '^schakel_delivery_attempts_total' metrics)"
	metric_is "schakel_deliveries{recipient=\"$W\",state=\"delivered\"}" "$nw"
	metric_is "schakel_deliveries{recipient=\"$N\",state=\"pending\"}" "$nn"
	metric_is "schakel_delivery_queue_depth{recipient=\"$N\"}" "$nn"
	[ -z "$(metric "schakel_delivery_queue_depth{recipient=\"$W\"}")" ] || metric_is "schakel_delivery_queue_depth{recipient=\"$W\"}" 0
	age=$(metric "schakel_delivery_oldest_pending_seconds{recipient=\"$N\"}")
	[ -n "$age" ] && [ "$age" -ge 0 ] && [ "$age" -le 60 ] || fail "oldest pending age '$age'"
	metric_is 'schakel_http_requests_total{endpoint="/v1/uploads/{adapter}",status="2xx"}' 3
	metric_is 'schakel_http_requests_total{endpoint="/v1/uploads/{adapter}",status="4xx"}' 1
	metric_is 'schakel_http_requests_total{endpoint="/v1/signals",status="2xx"}' 1
	[ "$(grep -c '^schakel_http_requests_total' metrics)" -eq 3 ] || fail "other request counts: $(grep '^schakel_http_requests_total' metrics)"
	metric_is 'schakel_http_request_duration_seconds_count{endpoint="/v1/uploads/{adapter}"}' 4
	metric_is 'schakel_http_request_duration_seconds_bucket{endpoint="/v1/uploads/{adapter}",le="+Inf"}' 4
	metric_is 'schakel_http_request_duration_seconds_count{endpoint="/v1/signals"}' 1
	# Buckets never decrease.
	grep '^schakel_http_request_duration_seconds_bucket{endpoint="/v1/uploads' metrics | awk '{ print $2 }' |
		awk 'NR > 1 && $1 < last { bad = 1 } { last = $1 } END { exit bad }' || fail "a histogram bucket decreases"
	metric_is 'schakel_refusals_total{status="400"}' 1
	metric_is schakel_log_entries "$(db 'SELECT count(*) FROM exlog')"
	# The text format: every sample line is NAME{LABELS} VALUE, with a TYPE before.
	grep -v '^#' metrics | grep -vE '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$' >bad.lines &&
		fail "lines not in the Prometheus text format: $(head -3 bad.lines)"
	for m in $(grep -v '^#' metrics | sed 's/[{ ].*//; s/_bucket$//; s/_sum$//; s/_count$//' | sort -u); do
		grep -q "^# TYPE $m " metrics || fail "no TYPE line for $m"
	done
	note "metrics: $nw delivered to Westland, $nn retried for the inspectorate; $(metric schakel_log_entries) log entries; upload latency sum $(metric 'schakel_http_request_duration_seconds_sum{endpoint="/v1/uploads/{adapter}"}') s"
}

# --- health ------------------------------------------------------------------

healthz() {	# healthz STATUS: GET /healthz must answer STATUS; the body in ./body
	local got
	got=$(admin /healthz body)
	[ "$got" = "$1" ] || fail "GET /healthz: $got, expected $1: $(cat body)"
}

test_healthz_503_when_the_database_is_locked_or_a_key_unreadable() {
	sqlite_only "locks the SQLite file with sqlite3"
	setup
	serve
	healthz 200
	json '.status == "ok" and .failures == [] and .warnings == []'
	(echo 'BEGIN EXCLUSIVE;'; sleep 4; echo 'ROLLBACK;') | sqlite3 "$D/schakel.db" &
	LOCK=$!
	PIDS+=("$LOCK")
	sleep 0.7
	t0=$(date +%s%N)
	healthz 503
	ms=$((($(date +%s%N) - t0) / 1000000))
	json '.status == "failing" and (.failures | length) == 1'
	json '.failures[0] | test("database")'
	note "while the database was locked: 503 in $ms ms: $(jq -c .failures body)"
	wait "$LOCK"
	healthz 200
	chmod 644 "$D/keys/pseudonym.key"
	healthz 503
	json '(.failures | length) == 1 and (.failures[0] | test("pseudonym.key")) and (.failures[0] | test("owner only"))'
	chmod 600 "$D/keys/pseudonym.key"
	healthz 200
	json '.status == "ok"'
}

test_healthz_503_when_the_log_head_was_altered() {
	setup
	ingest_examples || fail "ingest failed"
	serve
	healthz 200
	unguard_log
	db "UPDATE exlog SET detail = '{}' WHERE seq = (SELECT max(seq) FROM exlog)"
	healthz 503
	json '.failures | length == 1 and (.[0] | test("^exchange log: entry 5: its content does not match its hash"))'
}

test_healthz_warns_30_days_before_the_certificate_expires() {
	setup
	parties
	c=$D/certs
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$c/short.key" 2>/dev/null
	chmod 600 "$c/short.key"
	openssl req -new -key "$c/short.key" -subj "/C=NL/O=schakel development/serialNumber=00000001000000000001/CN=localhost" -out short.csr 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >short.ext
	openssl x509 -req -in short.csr -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 10 \
		-sha256 -extfile short.ext -out "$c/short.crt" 2>/dev/null || fail "cannot make the certificate"
	conf_set server certificate certs/short.crt
	conf_set server private_key certs/short.key
	serve
	want 200 $W /v1/signals	# the API works with it
	healthz 200
	json '.status == "ok" and .failures == [] and (.warnings | length) == 1'
	json '.warnings[0] | test("^the broker.s certificate expires in (9|10) days$")'
	note "warning: $(jq -r '.warnings[0]' body)"
	stop "$SPID"
	# And with the long-lived certificate again: no warning.
	conf_set server certificate certs/server.crt
	conf_set server private_key certs/server.key
	serve
	healthz 200
	json '.warnings == []'
}

# --- retention -------------------------------------------------------------

counts() {	# the rows that retention is about, as one line
	db "SELECT (SELECT count(*) FROM person) || ' ' || (SELECT count(*) FROM dwelling) || ' ' ||
	    (SELECT count(*) FROM finding) || ' ' || (SELECT count(*) FROM finding_person) || ' ' ||
	    (SELECT count(*) FROM ingest) || ' ' || (SELECT count(*) FROM signal) || ' ' ||
	    (SELECT coalesce(sum($(jlen evidence)), 0) FROM signal) || ' ' || (SELECT count(*) FROM signal_recipient) || ' ' ||
	    (SELECT count(*) FROM delivery WHERE state = 'delivered') || ' ' ||
	    (SELECT count(*) FROM delivery WHERE state <> 'delivered')"
}

# purge_as_of DAYS R D F S M: `purge --as-of today+DAYS` must report R
# registrations, D dwellings, F findings, S signals and M delivered
# messages, log them in a purge entry, and leave a log that verifies.
purge_as_of() {
	local as_of n_before
	as_of=$(day "$1")
	n_before=$(db "SELECT count(*) FROM exlog")
	sk purge --as-of "$as_of" >out || fail "purge --as-of $as_of failed: $(cat out)"
	grep -qx "purged as of $as_of: $2 registrations, $3 dwellings, $4 findings, $5 signals, $6 delivered messages" out ||
		fail "purge --as-of $as_of (today + $1): $(cat out), expected $2/$3/$4/$5/$6"
	[ "$(db "SELECT count(*) FROM exlog")" -eq $((n_before + 1)) ] || fail "the purge removed or added log entries"
	db "SELECT kind, subject, detail FROM exlog WHERE seq = (SELECT max(seq) FROM exlog)" >entry
	grep -qx "purge|$as_of|{\"as_of\":\"$as_of\",\"deliveries\":$6,\"dwellings\":$3,\"findings\":$4,\"ingests\":[0-9]*,\"registrations\":$2,\"signals\":$5}" entry ||
		fail "the purge's log entry: $(cat entry)"
	sk log verify >verify || fail "log verify failed after purge --as-of $as_of: $(cat verify)"
}

test_retention_deletes_exactly_what_is_past_its_period() {
	setup
	receiver
	free_port
	parties "https://127.0.0.1:$RPORT/westland" "https://127.0.0.1:$FPORT/nla"
	conf_set retention records_days 30
	conf_set retention signals_days 60
	conf_set retention delivered_days 7
	conf_set delivery backoff_initial 3600
	conf_set delivery backoff_max 3600
	ingest_examples || fail "ingest failed"
	sk match >/dev/null || fail "match failed"
	serve
	until_ 20 all_delivered_to $W || fail "Westland's deliveries not delivered"
	until_ 20 all_attempted $N || fail "the inspectorate's deliveries not attempted"
	stop "$SPID"
	dw=$(deliveries delivered)
	dn=$(deliveries pending)
	c0=$(counts)
	ev=$(db "SELECT sum($(jlen evidence)) FROM signal")
	rc=$(db "SELECT count(*) FROM signal_recipient")
	fp=$(db "SELECT count(*) FROM finding_person")
	[ "$fp" -gt 0 ] && [ "$ev" -gt 0 ] && [ "$rc" -gt 0 ] || fail "finding_person $fp, evidence $ev, recipients $rc"
	[ "$c0" = "12 6 5 $fp 4 6 $ev $rc $dw $dn" ] || fail "before the purge: $c0"
	[ "$dw" -eq 5 ] && [ "$dn" -eq 5 ] || fail "$dw delivered, $dn pending"
	entries=$(db "SELECT count(*) FROM exlog WHERE kind <> 'purge'")

	purge_as_of 6 0 0 0 0 0
	[ "$(counts)" = "$c0" ] || fail "after a purge 6 days on: $(counts), before: $c0"
	purge_as_of 8 0 0 0 0 "$dw"	# delivered messages: 7 days
	[ "$(counts)" = "12 6 5 $fp 4 6 $ev $rc 0 $dn" ] || fail "after a purge 8 days on: $(counts)"
	purge_as_of 29 0 0 0 0 0
	purge_as_of 30 0 0 0 0 0
	[ "$(counts)" = "12 6 5 $fp 4 6 $ev $rc 0 $dn" ] || fail "after a purge 30 days on: $(counts)"
	purge_as_of 31 12 6 5 0 0	# records: 30 days
	[ "$(counts)" = "0 0 0 0 0 6 $ev $rc 0 $dn" ] || fail "after a purge 31 days on: $(counts) (registrations dwellings findings finding_persons ingests signals evidence recipients delivered other)"
	purge_as_of 60 0 0 0 0 0
	purge_as_of 61 0 0 0 6 "$dn"	# signals: 60 days, with their deliveries
	[ "$(counts)" = "0 0 0 0 0 0 0 0 0 0" ] || fail "after a purge 61 days on: $(counts)"
	db "SELECT count(*) FROM feedback" | grep -qx 0 || fail "feedback left"
	# The log kept every entry, with its metadata.
	[ "$(db "SELECT count(*) FROM exlog WHERE kind <> 'purge'")" -eq "$entries" ] || fail "log entries were purged"
	[ "$(sk log --format json --kind ingest | wc -l)" -eq 4 ] || fail "the log lost its ingests"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'purge'")" -eq 7 ] || fail "not 7 purge entries"
	expect_rc 0 sk log verify >out || fail "log verify after all purges"
	note "purged $fp finding_person rows with the findings; $dw delivered after 7 days, $dn pending with their signals after 60"
}

# --- access requests ----------------------------------------------------------

test_inzage_lists_a_person_in_two_sources() {
	setup
	receiver
	parties "https://127.0.0.1:$RPORT/westland"
	ingest_examples || fail "ingest failed"
	sk match >/dev/null || fail "match failed"
	serve
	until_ 20 all_delivered_to $W || fail "not delivered"
	stop "$SPID"
	before=$(db "SELECT count(*) FROM exlog")
	expect_rc 0 sk inzage 999993653 >text || fail "inzage failed"
	ps=$(sed -n 's/^access request for pseudonym \([0-9a-f]\{64\}\)$/\1/p' text)
	[ -n "$ps" ] || fail "no pseudonym in the report"
	[ "$ps" = "$(db "SELECT $(hex pseudonym) FROM person WHERE addr LIKE '5911AB|20|%'")" ] ||
		fail "the report's pseudonym is not the stored one of the person registered at 5911AB 20"
	# The registration in Venlo's BRP file, the inspectorate's finding.
	grep -Eq '^registration +[0-9T:-]+Z +5911AB 20 +begindatumVerblijf [0-9-]+ +brp \(.*brp-venlo-npsLa01.xml\)$' text ||
		fail "no registration at 5911AB 20 from the Venlo BRP file"
	grep -Eq '^finding +[0-9T:-]+Z +2672XY 7 +NLA-2026-000103 of 2026-10-15 +inspectie \(.*inspectie.json\)$' text ||
		fail "no finding NLA-2026-000103"
	# The two signals at 2672XY 7, and where each went.
	for rule in ADRES_AFWIJKING ONDERREGISTRATIE; do
		id=$(signal_id $rule 2672XY)
		[ -n "$id" ] || fail "no $rule signal at 2672XY"
		grep -Eq "^signal +[0-9T:.-]+Z +2672XY 7 +$id +$rule " text || fail "no $rule signal in the report"
		mid=$(db "SELECT message_id FROM delivery WHERE signal_id = '$id' AND oin = '$W'")
		grep -Eq "^delivery +[0-9T:-]+Z +- +$mid +$W \(delivered\)$" text || fail "the delivery of $rule to Westland is not in the report"
		for oin in $(db "SELECT r.oin FROM signal_recipient r JOIN signal s ON s.seq = r.signal_seq WHERE s.id = '$id'"); do
			grep -Eq "^(routed|delivery) .* $oin \(" text || fail "$rule to $oin is not in the report"
		done
	done
	grep -q 'OVERBEWONING\|GEEN_VERGUNNING\|2671A' text && fail "the report has exchanges that do not concern the person"
	n=$(sed -n 's/^\([0-9]*\) exchanges concerned this person$/\1/p' text)
	[ -n "$n" ] && [ "$n" -eq "$(grep -cE '^(registration|finding|signal|delivery|routed|disclosure) ' text)" ] ||
		fail "the count line ($n) is not the number of lines"
	note "inzage 999993653: $(grep -oE '^(registration|finding|signal|delivery|routed|disclosure) ' text | sort | uniq -c | xargs)"
	# JSON: the same items.
	expect_rc 0 sk inzage --format json 999993653 >j || fail "inzage --format json failed"
	jq -e --arg ps "$ps" '.pseudonym == $ps' j >/dev/null || fail "JSON: another pseudonym"
	[ "$(jq '.exchanges | length' j)" -eq "$n" ] || fail "JSON has $(jq '.exchanges | length' j) items, text $n"
	# Each item's "what" (message id, signal id, finding) is in the text too.
	jq -r '.exchanges[] | .kind + " " + .what' j | while read -r k w; do
		grep -qE "^$k .* $w " text || echo "$k $w"
	done >missing
	[ -s missing ] && fail "JSON items not in the text: $(cat missing)"
	jq -e '[.exchanges[] | select(.kind == "finding" and (.what | startswith("NLA-2026-000103")))] | length == 1' j >/dev/null ||
		fail "JSON lacks the finding"
	jq -e '[.exchanges[] | select(.kind == "signal") | .source] | sort == ["ADRES_AFWIJKING", "ONDERREGISTRATIE"]' j >/dev/null ||
		fail "JSON lacks the signals"
	[ "$(jq -r '.exchanges[] | .kind' j | sort | uniq -c | xargs)" = "$(grep -oE '^(registration|finding|signal|delivery|routed|disclosure) ' text | sort | uniq -c | xargs)" ] ||
		fail "JSON and text list other kinds"
	# The BSN is nowhere in the data directory; the requests are logged by pseudonym.
	grep -rla 999993653 "$D" >found && fail "the BSN is in $(cat found)"
	[ "$(db "SELECT count(*) FROM exlog")" -eq $((before + 2)) ] || fail "not one log entry per access request"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'inzage' AND subject = '$ps' AND party IS NULL")" -eq 2 ] ||
		fail "the access requests are not logged by pseudonym"
	sk log --format json --kind inzage | grep -q 999993653 && fail "the BSN is in the log"
	sk log verify >/dev/null || fail "log verify failed"
	# A BSN failing the elfproef: a usage error, nothing logged.
	expect_rc 2 sk inzage 999993654 >out || fail "a BSN failing the elfproef did not exit 2"
	contains out "elfproef"
	expect_rc 2 sk inzage 12345 >/dev/null || fail "a short BSN did not exit 2"
	[ "$(db "SELECT count(*) FROM exlog")" -eq $((before + 2)) ] || fail "a refused access request was logged"
}

# --- structured logging -------------------------------------------------------

# busy_daemon: the daemon with everything it logs about: uploads, a match,
# deliveries, refusals (one with a BSN-like number and control characters
# in its path), a reload and a stop; its stderr is $SLOG.
busy_daemon() {
	receiver
	parties "https://127.0.0.1:$RPORT/westland"
	conf_set log level debug
	conf_set log checkpoint_interval 1
	serve
	upload $W brp "$FIX/brp-npsLa01.xml"
	upload $V brp "$FIX/brp-venlo-npsLa01.xml"
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
	want 400 $W /v1/uploads/brp --data-binary "@$E2E/bad/truncated.xml"
	want 404 $W /v1/x999900006
	printf 'GET /v1/x999900006\001\033[31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/certs/ca.crt" \
			-cert "$D/certs/party-$W.crt" -key "$D/certs/party-$W.key" >raw.out 2>/dev/null
	# (control characters in the request line: 400 since issue 13.5, the
	# line quoted nowhere)
	head -1 raw.out | grep -q '^HTTP/1.1 400' || fail "the raw request was not refused 400: $(head -c 200 raw.out)"
	printf 'GET /v1/x999900006%%01%%1b[31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/certs/ca.crt" \
			-cert "$D/certs/party-$W.crt" -key "$D/certs/party-$W.key" >raw.out 2>/dev/null
	head -1 raw.out | grep -q '^HTTP/1.1 404' || fail "the encoded request was not refused 404: $(head -c 200 raw.out)"
	until_ 20 all_delivered_to $W || fail "not delivered"
	kill -HUP "$SPID"
	until_ 5 grep -q 'reloaded' "$SLOG" || fail "no reload logged"
	stop "$SPID"
	[ "$(wc -l <"$SLOG")" -ge 10 ] || fail "only $(wc -l <"$SLOG") log lines"
}

# no_secrets FILE: no key's bytes (hex or base64), no fixture BSN, no raw
# control character in FILE.
no_secrets() {
	local k hex b64
	for k in "$D"/keys/*.key; do
		hex=$(xxd -p -c 1000 "$k")
		b64=$(base64 -w0 "$k")
		grep -qi "$hex" "$1" && fail "${k##*/} (hex) is in the log"
		grep -qF "$b64" "$1" && fail "${k##*/} (base64) is in the log"
		grep -qi "${hex:0:16}" "$1" && fail "part of ${k##*/} is in the log"
	done
	while read -r line; do
		if grep -qF -- "$line" "$1"; then fail "the broker's private key is in the log"; fi
	done < <(grep -v -- '-----' "$D/certs/server.key")
	grep -ohE '(inp\.bsn>|"bsn": *")[0-9]+' "$FIX"/* | grep -oE '[0-9]+$' | sort -u >bsns
	[ "$(wc -l <bsns)" -ge 10 ] || fail "found only $(wc -l <bsns) BSNs in the fixtures"
	grep -qFf bsns "$1" && fail "a fixture BSN is in the log: $(grep -oFf bsns "$1" | head -1)"
	grep -q 999900006 "$1" && fail "the BSN-like number of the refused path is in the log"
	LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$1" && fail "a raw control character is in the log"
	true
}

test_json_log_lines_are_json_without_personal_data_or_keys() {
	setup
	conf_set log format json
	busy_daemon
	n=$(wc -l <"$SLOG")
	jq -e 'type == "object" and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))
	       and (.level | IN("error", "warn", "info", "debug")) and (.subsys | type == "string")
	       and (.msg | type == "string" and length > 0)' "$SLOG" >checks 2>&1 ||
		fail "a line is not a JSON object with time/level/subsys/msg: $(grep -v true checks | head -2)"
	[ "$(grep -cx true checks)" -eq "$n" ] || fail "$n lines but $(grep -cx true checks) JSON objects"
	# The refusal of the path with a BSN-like number and control characters.
	jq -c 'select(.msg == "refused" and (.path | startswith("/v1/x")))' "$SLOG" >refused
	[ "$(wc -l <refused)" -eq 2 ] || fail "$(wc -l <refused) refusals of /v1/x... logged, expected 2"
	jq -se 'all(.[]; .path | test("^/v1/x\\[BSN\\?\\]") and (explode | all(. >= 32 and . != 127)))' refused >/dev/null ||
		fail "the path is not masked and cleaned: $(cat refused)"
	jq -se 'all(.[]; .reason | test("999900006") | not)' refused >/dev/null || fail "the reason has the number"
	grep -q '"level":"debug"\|"level":"info"' "$SLOG" || fail "no info lines"
	grep -q '"level":"warn"' "$SLOG" || fail "no warn line for the refusals"
	no_secrets "$SLOG"
	note "$n JSON lines; levels $(jq -r .level "$SLOG" | sort | uniq -c | xargs); subsystems $(jq -r .subsys "$SLOG" | sort -u | xargs)"
}

test_logfmt_log_lines_start_with_time_without_personal_data_or_keys() {
	setup
	conf_set log format logfmt
	busy_daemon
	n=$(wc -l <"$SLOG")
	[ "$(grep -cE '^time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z level=(error|warn|info|debug) subsys=[a-z]+ msg=' "$SLOG")" -eq "$n" ] ||
		fail "a line is not time= level= subsys= msg=: $(grep -vE '^time=\S+ level=\S+ subsys=\S+ msg=' "$SLOG" | head -2)"
	grep 'msg=refused .*path=/v1/x' "$SLOG" >refused
	[ "$(wc -l <refused)" -eq 2 ] || fail "$(wc -l <refused) refusals of /v1/x... logged, expected 2"
	grep -qF 'path=/v1/x[BSN?]' refused || fail "the path is not masked: $(cat refused)"
	no_secrets "$SLOG"
}

# The exchange log keeps refusals too; their path is outside text, and the
# BSN-like number must be masked there as well (subject and detail).
test_refusal_log_entry_masks_bsn_and_control_characters() {
	setup
	parties
	serve
	# Raw control characters in a target are refused at the request line
	# (400, issue 13.5); percent-encoded ones reach the path.
	printf 'GET /v1/x999900006%%01%%1b[31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/certs/ca.crt" \
			-cert "$D/certs/party-$W.crt" -key "$D/certs/party-$W.key" >raw.out 2>/dev/null
	head -1 raw.out | grep -q '^HTTP/1.1 404' || fail "not refused 404: $(head -c 200 raw.out)"
	sk log --format json --kind refusal >entry || fail "log failed"
	[ "$(wc -l <entry)" -eq 1 ] || fail "$(wc -l <entry) refusal entries"
	jq -e '.subject | test("^/v1/x\\[BSN\\?\\]")' entry >/dev/null || fail "the subject is not masked: $(cat entry)"
	jq -e '[.. | strings | select(test("999900006") or (explode | any(. < 32 or . == 127)))] | length == 0' entry >/dev/null ||
		fail "the refusal's log entry keeps the number or control characters: $(jq -c .detail entry)"
}

# Stored log data is served as it was stored, digits and all: a signal id
# with 9-digit runs in it and 9-digit sizes (once `d251e********cbd…` and
# `*********`).  Only a BSN-like number from outside (a path, a rejected
# value) is masked, as [BSN?], which no id, count or size can be.
test_log_data_served_unchanged_only_outside_bsn_masked() {
	local id=d251e123456789cbd69d5819c9ee4fb3 f
	setup
	conf_set server max_body_bytes 100000000
	parties
	serve
	want 404 $W "/v1/signals/$id/feedback" -H 'Content-Type: application/json' --data '{"outcome":"bevestigd"}' || return 1
	printf 'POST /v1/uploads/brp HTTP/1.1\r\nHost: x\r\nContent-Length: 123456789\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/certs/ca.crt" \
			-cert "$D/certs/party-$W.crt" -key "$D/certs/party-$W.key" >raw.out 2>/dev/null
	head -1 raw.out | grep -q '^HTTP/1.1 413' || fail "not refused 413: $(head -c 200 raw.out)"
	want 404 $W "/v1/signals/999900006/feedback" -H 'Content-Type: application/json' --data '{"outcome":"bevestigd"}' || return 1
	{ head -1 "$FIX/huisvesting.csv"
	  echo '1783;1783200000000010;2671AB;10;;;Naaldwijk;999900006;woonfunctie;;V-2025-001;2027-01-01'
	} >h.csv
	want 200 $N /v1/uploads/huisvesting --data-binary @h.csv || return 1
	want 200 $W "/v1/log?limit=1000" || return 1
	jq -c '.entries[]' body >api.jsonl
	want 200 $N "/v1/log?limit=1000" || return 1
	jq -c '.entries[]' body >>api.jsonl
	sk log --format json >cli.jsonl || fail "schakel log failed"
	[ "$(admin /api/log admin.json)" = 200 ] || fail "/api/log: $(cat admin.json)"
	jq -c '.entries[]' admin.json >admin.jsonl
	for f in api cli admin; do
		jq -e --arg id "$id" -s '[.[] | select(.subject == "/v1/signals/\($id)/feedback"
			and .detail.reason == "no signal \($id) in this party'"'"'s inbox")] | length == 1' $f.jsonl >/dev/null ||
			fail "$f: the signal id is not served as stored: $(grep -F feedback $f.jsonl | head -2)"
		jq -e -s '[.[] | select(.subject == "/v1/uploads/brp" and .detail.status == 413 and
			.detail.reason == "the body is 123456789 bytes; at most 100000000 are accepted")] | length == 1' $f.jsonl >/dev/null ||
			fail "$f: the sizes are not served as stored: $(grep -F 413 $f.jsonl | head -1)"
		jq -e -s '[.[] | select(.subject == "/v1/signals/[BSN?]/feedback" and
			.detail.reason == "no signal [BSN?] in this party'"'"'s inbox")] | length == 1' $f.jsonl >/dev/null ||
			fail "$f: the BSN in the path is not masked as [BSN?]: $(grep -F /v1/signals/ $f.jsonl | tail -1)"
		jq -e -s '[.[] | select(.kind == "reject" and .detail.reason ==
			"oppervlakte_m2 '"'"'[BSN?]'"'"' is not a whole number from 1 to 1000000")] | length == 1' $f.jsonl >/dev/null ||
			fail "$f: the rejected value is not masked as [BSN?]: $(grep -F reject $f.jsonl | head -1)"
		grep -q 999900006 $f.jsonl && fail "$f: the BSN-like number is served"
		grep -qF '**' $f.jsonl && fail "$f: asterisks: $(grep -F '**' $f.jsonl | head -1)"
	done
	sk log >table.txt || fail "schakel log (table) failed"
	grep -qF "$id" table.txt || fail "the table does not show the signal id: $(grep -F feedback table.txt)"
	grep -qF 123456789 table.txt || fail "the table does not show the size"
}

# 1,000 refusals of clients that are not identified: requests without a
# client certificate (curl, on kept-alive connections) and TLS handshakes
# that fail (plain text to the TLS port).  They are all counted in
# /metrics, and written as a handful of aggregated entries (one per source
# and cause a minute, the rest when the daemon stops), while the refusals
# of an identified party in between are each an entry of their own, at once.
test_unidentified_noise_is_counted_not_logged_one_by_one() {
	local urls=() before i b
	setup
	parties
	serve
	for i in $(seq 190); do urls+=("https://127.0.0.1:$PORT/v1/signals"); done
	before=$(db "SELECT count(*) FROM exlog")
	for b in 1 2 3 4 5; do
		curl -s -o /dev/null --cacert "$D/certs/ca.crt" "${urls[@]}" || fail "curl failed"
		for i in 1 2; do
			want 403 $V /v1/uploads/inspectie --data-binary x
		done
		for i in $(seq 10); do
			{ exec 5<>"/dev/tcp/127.0.0.1/$PORT" && printf 'GET / HTTP/1.0\r\n\r\n' >&5 &&
				timeout 5 cat <&5 >/dev/null; exec 5>&-; } 2>/dev/null
		done
	done
	# The party's ten refusals are in the log already, one by one.
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal' AND party = '$V'")" -eq 10 ] ||
		fail "$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal' AND party = '$V'") refusals of Venlo logged, expected 10"
	until_ 10 sh -c "curl -s http://127.0.0.1:$APORT/metrics | grep -q 'cause=\"handshake_failed\",source=\"127.0.0.1\"} 50\$'" ||
		fail "the failed handshakes are not counted: $(curl -s "http://127.0.0.1:$APORT/metrics" | grep unidentified)"
	scrape
	[ "$(metric 'schakel_unidentified_refusals_total{cause="no_certificate",source="127.0.0.1"}')" = 950 ] ||
		fail "/metrics: $(grep unidentified metrics)"
	[ "$(metric 'schakel_unidentified_refusals_total{cause="handshake_failed",source="127.0.0.1"}')" = 50 ] ||
		fail "/metrics: $(grep unidentified metrics)"
	stop "$SPID"	# SIGTERM: what is counted is written
	added=$(( $(db "SELECT count(*) FROM exlog") - before ))
	anon=$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal' AND party IS NULL")
	note "1,000 unidentified refusals and 10 of a party: $added log entries ($anon aggregated)"
	[ "$anon" -ge 2 ] && [ "$anon" -le 6 ] || fail "$anon aggregated entries, expected 2 to 6"
	[ "$added" -eq $((10 + anon)) ] || fail "$added entries added, expected $((10 + anon))"
	[ "$(logj 'select(.party == null and .subject == "127.0.0.1" and .detail.cause == "no_certificate"
		and .detail.status == 401) | .detail.count' --kind refusal | awk '{ n += $1 } END { print n }')" = 950 ] || fail "the entries do not count 950 requests without a certificate"
	[ "$(logj 'select(.party == null and .detail.cause == "handshake_failed") | .detail.count' \
		--kind refusal | awk '{ n += $1 } END { print n }')" = 50 ] || fail "the entries do not count 50 failed handshakes"
	[ "$(grep -c 'msg="refused unidentified clients"' "$SLOG")" -eq "$anon" ] || fail "not one daemon log line per aggregated entry"
	[ "$(grep -c 'msg=refused ' "$SLOG")" -eq 10 ] || fail "not one warn line per refusal of the party"
	sk log verify >/dev/null || fail "log verify failed"
}

tt "log fixture: 4 ingests, 2 rejects, match, 6 signals, 5 deliveries, 1 refusal" test_log_fixture_has_the_known_entries
tt "log --kind selects exactly each kind's entries; JSON lines valid" test_log_kind_filter
tt "log --party: the party's own entries and its signals" test_log_party_filter
tt "log --source: an adapter's ingests and rejections" test_log_source_filter
tt "log --recipient: deliveries to and signals for the party, not its refusals" test_log_recipient_filter
tt "log --status: an outcome or an HTTP status" test_log_status_filter
tt "log --since/--until: exactly the entries in the time range" test_log_time_range_filter
tt "log --id: a message id, a signal id, an ingest number" test_log_id_filter
tt "log filters combine (AND); the table format has a header and one line per entry" test_log_filters_combine_and_table_format
tt "log --follow prints an entry appended after it started, and keeps following" test_log_follow_prints_an_entry_appended_later
tt "log verify exits 1 naming a tampered entry (and the broken link of a re-hashed one)" test_log_verify_names_a_tampered_entry
tt "log verify reports a deleted last entry that a checkpoint signed" test_log_verify_reports_a_missing_tail_after_a_checkpoint
tt "checkpoint_interval = 1: log verify proven by N signed checkpoints; changed or forged ones refused" test_checkpoints_signed_under_serve_and_a_forged_one_refused
tt "/metrics: exact counts after known uploads, a refused file and deliveries with retries" test_metrics_exact_after_known_uploads_and_deliveries
tt "/healthz: 200 ok; 503 naming the database while it is locked; 503 for a key readable by others" test_healthz_503_when_the_database_is_locked_or_a_key_unreadable
tt "/healthz: 503 when the log's chain head was altered" test_healthz_503_when_the_log_head_was_altered
tt "/healthz: a warning when the broker's certificate expires within 30 days" test_healthz_warns_30_days_before_the_certificate_expires
tt "retention: purge deletes exactly what is past its period; the log keeps its entries and verifies" test_retention_deletes_exactly_what_is_past_its_period
tt "inzage 999993653: registration, finding, both signals and where they went; JSON the same; no BSN stored" test_inzage_lists_a_person_in_two_sources
tt "[log] format = json: every line JSON with time/level/subsys/msg; no BSN, control character or key" test_json_log_lines_are_json_without_personal_data_or_keys
tt "[log] format = logfmt: every line starts with time=; no BSN, control character or key" test_logfmt_log_lines_start_with_time_without_personal_data_or_keys
tt "the exchange log's refusal entry masks a BSN-like number and control characters" test_refusal_log_entry_masks_bsn_and_control_characters
tt "1,000 unidentified refusals (no certificate, failed handshakes): all counted in /metrics, a handful of entries; a party's are each logged" test_unidentified_noise_is_counted_not_logged_one_by_one
tt "log data is served as stored by /v1/log, schakel log and /api/log; only a BSN from outside is masked, as [BSN?]" test_log_data_served_unchanged_only_outside_bsn_masked
