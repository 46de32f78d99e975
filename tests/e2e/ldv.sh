#!/bin/bash
# Processing records as Logboek Dataverwerkingen asks (issue 17 parts 2-4):
# one span per processing (an input received, pseudonymised and stored, a
# match run, a signal raised, a disclosure, an access request) in the
# transaction of its exchange log entry, with one child record per data
# subject carrying the keyed pseudonym; none when they cannot be written
# (the processing does not happen); `inzage` lists a person's processings;
# the OTLP/HTTP JSON export reaches a collector exactly once across its
# outage and a restart of the daemon, each body checked field by field
# against the OTLP specification (tests/node/otlp-check.mjs).
#
# Needs curl, sqlite3, jq, node (with tests/node's packages).
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

MISSING=
for tool in curl sqlite3 jq node; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
[ -d "$ROOT/tests/node/node_modules/ajv" ] || MISSING="$MISSING ajv(make test-deps)"
PKI=$TMP/pki
[ -n "$MISSING" ] || make_pki "$PKI" $W:Westland $N:NLA

REG=https://schakel.example/verwerkingsactiviteiten

# A data directory of the examples, ingested and matched by hand.
examples() {
	init_example || fail "init failed"
	ingest_examples || fail "ingest failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
}

test_a_record_per_processing_in_its_trace() {
	examples
	# one receive and one pseudonymise record per input (four inputs), one
	# match record, one per new signal
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.receive'")" -eq 4 ] ||
		fail "not one receive record per input: $(db 'SELECT name, count(*) FROM ldv_span GROUP BY 1')"
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.pseudonymise'")" -eq 4 ] ||
		fail "not one pseudonymise record per input"
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.match'")" -eq 1 ] || fail "not one match record"
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.signal'")" -eq "$(db 'SELECT count(*) FROM signal')" ] ||
		fail "not one record per signal"
	# each record is in the trace of the log entry written with it, of its kind
	[ "$(db "SELECT count(*) FROM ldv_span s JOIN exlog l ON l.seq = s.exlog_seq WHERE l.trace_id = s.trace_id
		AND l.kind = CASE s.name WHEN 'schakel.receive' THEN 'ingest' WHEN 'schakel.pseudonymise' THEN 'ingest'
		WHEN 'schakel.match' THEN 'match' WHEN 'schakel.signal' THEN 'signal' END
		AND (s.name != 'schakel.signal' OR l.subject = s.object)")" -eq "$(db 'SELECT count(*) FROM ldv_span')" ] ||
		fail "a record is not in the trace of its own log entry: $(db 'SELECT s.name, s.trace_id, l.kind, l.trace_id FROM ldv_span s LEFT JOIN exlog l ON l.seq = s.exlog_seq')"
	# parents: pseudonymise under its receive, every signal under the match
	[ "$(db "SELECT count(*) FROM ldv_span c JOIN ldv_span p ON p.span_id = c.parent_span_id
		WHERE (c.name = 'schakel.pseudonymise' AND p.name = 'schakel.receive' OR
		       c.name = 'schakel.signal' AND p.name = 'schakel.match') AND p.trace_id = c.trace_id")" -eq \
	  "$(db "SELECT count(*) FROM ldv_span WHERE name IN ('schakel.pseudonymise', 'schakel.signal')")" ] ||
		fail "a record's parent is not the processing that caused it"
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name IN ('schakel.receive', 'schakel.match') AND parent_span_id IS NOT NULL")" -eq 0 ] ||
		fail "a root processing has a parent"
	# ids, times, activity URIs of the register, status unset
	[ "$(db "SELECT count(*) FROM ldv_span WHERE length(trace_id) = 32 AND length(span_id) = 16
		AND end_ns >= start_ns AND start_ns > 1700000000000000000 AND status = 0
		AND activity = '$REG/' || CASE name WHEN 'schakel.receive' THEN 'ontvangen'
		WHEN 'schakel.pseudonymise' THEN 'pseudonimiseren-opslaan' WHEN 'schakel.match' THEN 'matchen'
		WHEN 'schakel.signal' THEN 'signaleren' END || '/v1'")" -eq "$(db 'SELECT count(*) FROM ldv_span')" ] ||
		fail "a record lacks its ids, times or activity: $(db 'SELECT * FROM ldv_span LIMIT 3')"
	# the data subjects: every stored person of an input, by pseudonym (the
	# registrations and the persons the findings name)
	[ "$(db "SELECT count(*) FROM ldv_subject_each b JOIN ldv_span s ON s.seq = b.span_seq WHERE s.name = 'schakel.pseudonymise'")" -eq \
	  "$(db 'SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM finding_person)')" ] ||
		fail "not one subject per stored person"
	[ "$(db "SELECT count(*) FROM ldv_subject_each b WHERE b.pseudonym NOT IN (SELECT pseudonym FROM person UNION SELECT pseudonym FROM finding_person)")" -eq 0 ] ||
		fail "a subject is not a stored pseudonym"
	[ "$(db "SELECT count(*) FROM ldv_span s WHERE subjects != (SELECT count(*) FROM ldv_subject_each WHERE span_seq = s.seq)")" -eq 0 ] ||
		fail "a record's subject count is off"
	# an ADRES_AFWIJKING signal has its person among its subjects
	[ "$(db "SELECT count(*) FROM signal g JOIN ldv_span s ON s.object = g.id AND s.name = 'schakel.signal'
		WHERE g.person IS NOT NULL AND g.person NOT IN (SELECT pseudonym FROM ldv_subject_each WHERE span_seq = s.seq)")" -eq 0 ] ||
		fail "a signal's person is not its subject"
	[ "$(db "SELECT count(*) FROM ldv_subject_each WHERE length(pseudonym) != 32")" -eq 0 ] || fail "a subject is not a pseudonym"
	# an input of more than one batch: its subjects numbered 0 ... 599, each person once
	"$ROOT/tests/tools/gen-brp.sh" 600 >brp600.xml
	sk ingest brp brp600.xml >/dev/null || fail "ingest of 600 failed"
	seq=$(db "SELECT max(seq) FROM ldv_span WHERE name = 'schakel.pseudonymise'")
	[ "$(db "SELECT count(*) || ' ' || count(DISTINCT n) || ' ' || min(n) || ' ' || max(n) || ' ' || count(DISTINCT pseudonym) FROM ldv_subject_each WHERE span_seq = $seq")" = "600 600 0 599 600" ] ||
		fail "600 subjects are not numbered 0-599: $(db "SELECT count(*), min(n), max(n) FROM ldv_subject_each WHERE span_seq = $seq")"
	[ "$(db "SELECT subjects FROM ldv_span WHERE seq = $seq")" -eq 600 ] || fail "the record does not count 600 subjects"
	[ "$(db "SELECT count(*) FROM ldv_subject_each b WHERE span_seq = $seq AND pseudonym NOT IN (SELECT pseudonym FROM person WHERE ingest_id = (SELECT max(id) FROM ingest))")" -eq 0 ] ||
		fail "a subject of the 600 is not a person of that input"
	grep -rla 999993653 "$D" && fail "a BSN is in the data directory"
	sk log verify >/dev/null || fail "log verify failed"
}

test_no_record_no_processing_and_off() {
	sqlite_only "makes writes fail with SQLite triggers (RAISE(ABORT))"
	init_example || fail "init failed"
	# A record that cannot be written: the ingest does not happen.
	db "CREATE TRIGGER no_records BEFORE INSERT ON ldv_span BEGIN SELECT RAISE(ABORT, 'disk says no'); END;"
	expect_rc 1 sk ingest huisvesting "$FIX/huisvesting.csv" >out
	contains out "disk says no"
	[ "$(records)" -eq 0 ] || fail "the ingest stored records without its processing record"
	[ "$(db 'SELECT count(*) FROM exlog')" -eq 0 ] || fail "the ingest was logged without its processing record"
	# Subjects that cannot be written: inline in the record (a first batch of
	# up to 256), or a further batch (an input of 600 persons).
	db "DROP TRIGGER no_records; CREATE TRIGGER no_subjects BEFORE INSERT ON ldv_span WHEN NEW.pseudonyms IS NOT NULL BEGIN SELECT RAISE(ABORT, 'no subjects'); END;"
	expect_rc 1 sk ingest brp "$FIX/brp-npsLa01.xml" >out
	contains out "no subjects"
	[ "$(records)" -eq 0 ] || fail "the ingest stored persons without their subject records"
	db "DROP TRIGGER no_subjects; CREATE TRIGGER no_subjects BEFORE INSERT ON ldv_subject BEGIN SELECT RAISE(ABORT, 'no more subjects'); END;"
	"$ROOT/tests/tools/gen-brp.sh" 600 >brp600.xml
	expect_rc 1 sk ingest brp brp600.xml >out
	contains out "no more subjects"
	[ "$(records)" -eq 0 ] || fail "the ingest stored persons without their subject records"
	db "DROP TRIGGER no_subjects"
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest failed"
	sk ingest inspectie "$FIX/inspectie.json" >/dev/null || fail "ingest failed"
	db "CREATE TRIGGER no_records BEFORE INSERT ON ldv_span BEGIN SELECT RAISE(ABORT, 'disk says no'); END;"
	expect_rc 1 sk match --as-of 2026-11-01 >/dev/null
	[ "$(db 'SELECT count(*) FROM signal')" -eq 0 ] || fail "the match raised signals without its processing record"
	expect_rc 1 sk inzage 999993653 >/dev/null
	[ "$(db "SELECT count(*) FROM exlog WHERE kind IN ('match', 'inzage')")" -eq 0 ] ||
		fail "a match or access request was logged without its processing record"
	db "DROP TRIGGER no_records"
	# [ldv] enabled = false: no records, the rest as before.
	section_set ldv enabled false
	before=$(db 'SELECT count(*) FROM ldv_span')
	sk ingest brp "$FIX/brp-npsLa01.xml" >/dev/null
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	[ "$(db 'SELECT count(*) FROM signal')" -gt 0 ] || fail "no signals"
	[ "$(db 'SELECT count(*) FROM ldv_span')" -eq "$before" ] || fail "records written with [ldv] enabled = false"
}

receiver() {	# receiver [ARGS]: the reference receiver (on $RPORT once it ran); RPID, RPORT, RLOG
	T=${D%/data}
	RLOG=$T/receive.$((++_receivers)).log
	launch "$RLOG" "$SCHAKEL" receive --dir "$T/received" --port "${RPORT:-0}" \
		--cert "$PKI/server.crt" --key "$PKI/server.key" --ca "$PKI/ca.crt" \
		--broker-cert "$PKI/server.crt" "$@"
	RPID=$LPID
	RPORT=$LPORT
}
_receivers=0

test_disclosure_and_inzage() {
	receiver
	serve_setup "$PKI"
	section_set delivery backoff_initial 1
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all \
		"push_url=https://127.0.0.1:$RPORT/westland"
	party $N "Nederlandse Arbeidsinspectie" "supplies=inspectie, huisvesting" receives=all
	sk ingest brp "$FIX/brp-npsLa01.xml" >/dev/null
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest failed"
	sk ingest inspectie "$FIX/inspectie.json" >/dev/null || fail "ingest failed"
	sk match >/dev/null || fail "match failed"
	serve
	until_ 30 eval '[ "$(db "SELECT count(*) FROM delivery WHERE state != '"'delivered'"'")" -eq 0 ]' ||
		fail "not delivered"
	stop "$SPID"
	# one disclosure record per delivered push, to its recipient, in its
	# signal's trace, with the signal's subjects, written with its
	# `disclosure` log entry
	disclosed() {	# disclosed: the disclosure records that fit their signal and log entry
		db "SELECT count(*) FROM ldv_span s JOIN signal g ON g.id = s.object
		JOIN exlog l ON l.seq = s.exlog_seq AND l.kind = 'disclosure' AND l.subject = g.id AND l.party = s.party
		WHERE s.name = 'schakel.disclose' AND s.trace_id = g.trace_id
		AND s.activity = '$REG/verstrekken/v1' AND s.subjects = (SELECT subjects FROM ldv_span WHERE
		name = 'schakel.signal' AND object = g.id)"
	}
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.disclose' AND subjects > 0")" -gt 0 ] ||
		fail "no disclosure has data subjects"
	[ "$(disclosed)" -eq "$(db 'SELECT count(*) FROM delivery')" ] &&
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.disclose'")" -eq "$(db 'SELECT count(*) FROM delivery')" ] ||
		fail "not one disclosure record per delivery: $(db "SELECT * FROM ldv_span WHERE name = 'schakel.disclose'")"
	# an inbox page: one more per signal shown
	serve
	want 200 $N "/v1/signals?limit=500"
	shown=$(jq '.signals | length' body)
	stop "$SPID"
	[ "$shown" -gt 0 ] || fail "the inbox is empty"
	[ "$(db "SELECT count(*) FROM ldv_span WHERE name = 'schakel.disclose' AND party = '$N'")" -eq "$shown" ] ||
		fail "not one disclosure record per signal of the inbox page"
	[ "$(disclosed)" -eq $(($(db 'SELECT count(*) FROM delivery') + shown)) ] ||
		fail "the inbox's disclosure records do not fit their signals and entries"
	# inzage: the person's processings with activity, time, party, trace
	ps=$(db "SELECT $(hex pseudonym) FROM person WHERE addr LIKE '2672XY|7|%'" | head -1)
	[ -n "$ps" ] || fail "no person at 2672XY 7"
	bsn=999993653
	sk inzage $bsn >text || fail "inzage failed"
	grep -q "^access request for pseudonym " text || fail "the exchanges are gone from inzage"
	grep -Eq '^[0-9]+ exchanges? concerned this person$' text || fail "no count of exchanges"
	ps=$(sed -n 's/^access request for pseudonym \([0-9a-f]\{64\}\)$/\1/p' text)
	want=$(db "SELECT count(DISTINCT s.seq) FROM ldv_span s WHERE s.seq IN (SELECT span_seq FROM ldv_subject_each WHERE $(hex pseudonym) = '$ps')
		OR s.span_id IN (SELECT c.parent_span_id FROM ldv_span c JOIN ldv_subject_each b ON b.span_seq = c.seq WHERE $(hex b.pseudonym) = '$ps')")
	[ "$want" -gt 3 ] || fail "the person has only $want processings"
	[ "$(grep -c '^processing ' text)" -eq "$want" ] || { cat text; fail "not $want processing lines"; }
	grep -q "^$want processings of this person$" text || fail "no count of processings"
	for name in receive pseudonymise match signal disclose inzage; do
		grep -Eq "^processing +20[0-9-]+T[0-9:.]+Z +schakel\.$name +[0-9a-f]{32} " text ||
			{ cat text; fail "no $name processing in the report"; }
	done
	grep -Eq "^processing .* schakel\.disclose +[0-9a-f]{32} +$W +$REG/verstrekken/v1$" text ||
		fail "the disclosure does not name its recipient and activity"
	# JSON: the LDV read side, by data subject; by activity and by trace
	sk inzage --format json $bsn >j || fail "inzage --format json failed"
	jq -e --arg ps "$ps" '.pseudonym == $ps and (.exchanges | length) > 0' j >/dev/null || fail "JSON lost its exchanges"
	jq -e --arg ps "$ps" '.dataverwerkingen.query["dpl.core.data_subject_id"] == $ps' j >/dev/null || fail "JSON: no query"
	[ "$(jq '.dataverwerkingen.records | length' j)" -eq $((want + 1)) ] || fail "JSON: not $((want + 1)) records"
	jq -e --arg ps "$ps" '[.dataverwerkingen.records[] | (.trace_id | test("^[0-9a-f]{32}$")) and
		(.span_id | test("^[0-9a-f]{16}$")) and (.status_code == "STATUS_CODE_UNSET") and
		(.start_time | test("^20[0-9-]+T[0-9:]+\\.[0-9]{3}Z$")) and .end_time >= .start_time and
		.attributes["dpl.core.data_subject_id"] == $ps and
		(.attributes["dpl.core.processing_activity_id"] | startswith("'$REG/'"))] | all' j >/dev/null ||
		fail "JSON records lack LDV fields: $(jq -c '.dataverwerkingen.records[0]' j)"
	tr=$(jq -r '[.dataverwerkingen.records[] | select(.name == "schakel.disclose")][0].trace_id' j)
	sk inzage --format json --trace "$tr" $bsn >j2 || fail "inzage --trace failed"
	jq -e --arg tr "$tr" '(.dataverwerkingen.records | length) > 1 and ([.dataverwerkingen.records[] | .trace_id == $tr] | all)' j2 >/dev/null ||
		fail "inzage --trace: other traces or none"
	sk inzage --format json --activity verstrekken $bsn >j3 || fail "inzage --activity failed"
	jq -e --arg w $W --arg n $N '(.dataverwerkingen.records | length) > 0 and ([.dataverwerkingen.records[] | .name == "schakel.disclose" and (.schakel.party == $w or .schakel.party == $n)] | all) and ([.dataverwerkingen.records[] | select(.schakel.party == $n)] | length) > 0' j3 >/dev/null ||
		fail "inzage --activity: other activities or none"
	sk inzage --format json --activity "$REG/verstrekken/v1" $bsn | jq -e '.dataverwerkingen.records | length > 0' >/dev/null ||
		fail "inzage --activity URI found nothing"
	expect_rc 2 sk inzage --activity nonsense $bsn >/dev/null
	expect_rc 2 sk inzage --trace NOT $bsn >/dev/null
}

# The spans the collector received: one checked line each (otlp-check.mjs).
received_spans() {
	node "$ROOT/tests/node/otlp-check.mjs" "$T"/received/otlp-*.json
}

# All the store's records and subjects: the number of spans to arrive.
expected_spans() {
	db 'SELECT (SELECT count(*) FROM ldv_span) + (SELECT count(*) FROM ldv_subject_each)'
}

all_exported() {
	[ "$(db 'SELECT CASE WHEN (SELECT span_seq FROM ldv_export) = (SELECT max(seq) FROM ldv_span) AND
		(SELECT subject_n FROM ldv_export) = (SELECT 1 + subjects FROM ldv_span ORDER BY seq DESC LIMIT 1)
		THEN 1 ELSE 0 END')" = 1 ]	# (a CASE: PostgreSQL prints a boolean as t)
}

test_otlp_export_exactly_once_across_outage_and_restart() {
	receiver --refuse 503	# the collector is there but failing
	serve_setup "$PKI"
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	party $N "Nederlandse Arbeidsinspectie" "supplies=inspectie, huisvesting" receives=all
	section_set ldv otlp_url "https://127.0.0.1:$RPORT/v1/traces"
	section_set ldv otlp_batch 29
	sk ingest brp "$FIX/brp-npsLa01.xml" >/dev/null
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest failed"
	"$ROOT/tests/tools/gen-brp.sh" 300 >brp300.xml	# subjects beyond the first batch
	sk ingest brp brp300.xml >/dev/null || fail "ingest failed"
	serve
	until_ 20 grep -q 'export failed' "$SLOG" || { cat "$SLOG"; fail "no failed export logged"; }
	stop "$RPID"	# now it is down
	sleep 1.5
	stop "$SPID"
	[ "$(db 'SELECT span_seq FROM ldv_export')" -eq 0 ] || fail "the cursor moved without a 2xx"
	sk ingest inspectie "$FIX/inspectie.json" >/dev/null || fail "ingest failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	serve	# restarted while the collector is down
	until_ 20 eval '[ "$(grep -c "export failed" "$SLOG")" -ge 2 ]' || fail "no retry while down"
	receiver	# up again, on the same port
	until_ 90 all_exported || { cat "$SLOG"; fail "not all exported: cursor $(db 'SELECT * FROM ldv_export')"; }
	stop "$SPID"
	sk inzage 999993653 >/dev/null || fail "inzage failed"
	serve	# and what came while it was stopped
	until_ 60 all_exported || fail "the inzage was not exported after the restart"
	stop "$SPID"
	stop "$RPID"
	received_spans >spans 2>check.err || { cat check.err; fail "an export body does not follow OTLP"; }
	n=$(expected_spans)
	[ "$(wc -l <spans)" -eq "$n" ] || fail "$(wc -l <spans) spans arrived, $n expected"
	[ "$(cut -f1,2 spans | sort -u | wc -l)" -eq "$n" ] || fail "a span arrived twice"
	[ "$(ls "$T"/received/otlp-*.json | wc -l)" -ge $(((n + 28) / 29)) ] || fail "not batched by 29"
	grep -q "received again (duplicate)" "$T"/receive.*.log && fail "a batch was sent again"
	# each record as stored: trace, span, parent, name, times, status, attributes
	# (read splits at tabs, and runs of them count as one: no field is empty)
	db -separator $'\t' "SELECT trace_id, span_id, coalesce(parent_span_id, '-'), name, start_ns, end_ns, status,
		activity, coalesce(object, '-'), coalesce(party, '-'), subjects, exlog_seq FROM ldv_span" |
	while IFS=$'\t' read -r tr sp pa nm st en co ac ob pt su ex; do
		line=$(awk -F'\t' -v s="$sp" '$2 == s' spans)
		[ -n "$line" ] || { echo "span $sp missing"; continue; }
		IFS=$'\t' read -r gtr gsp gpa gnm gst gen gco gat <<<"$line"
		[ "$gtr $gpa $gnm $gst $gen $gco" = "$tr $pa $nm $st $en $co" ] || echo "span $sp: $line"
		echo "$gat" | jq -e --arg ac "$ac" --arg ob "$ob" --arg pt "$pt" --arg su "$su" --arg ex "$ex" \
			'.["dpl.core.processing_activity_id"] == $ac and (.["schakel.object"] // "-") == $ob and
			 (.["schakel.party"] // "-") == $pt and .["schakel.subjects"] == $su and
			 .["schakel.exchange_log_entry"] == $ex and (has("dpl.core.data_subject_id") | not)' >/dev/null ||
			echo "span $sp attributes: $gat"
	done >diff
	[ -s diff ] && { head diff; fail "records arrived other than stored"; }
	# each subject as a child span of its record, with the pseudonym
	[ "$(db "SELECT $(hex b.pseudonym) || ' ' || s.span_id FROM ldv_subject_each b JOIN ldv_span s ON s.seq = b.span_seq" | sort | md5sum)" = \
	  "$(jq -r 'select(.["dpl.core.data_subject_id"]) | .["dpl.core.data_subject_id"]' < <(cut -f8 spans) |
		paste -d' ' - <(awk -F'\t' '$8 ~ /data_subject_id"/ { print $3 }' spans) | sort | md5sum)" ] ||
		fail "the subjects arrived other than stored"
	awk -F'\t' '$8 ~ /data_subject_id"/ && $4 !~ /\.subject$/' spans | grep -q . && fail "a subject span is not named NAME.subject"
	grep -rqa 999993653 "$T"/received && fail "a BSN reached the collector"
	note "OTLP: $n spans in $(ls "$T"/received/otlp-*.json | wc -l) requests, each once"
}

tt "one record per processing, in the trace of its log entry, with its parent, activity and data subjects" test_a_record_per_processing_in_its_trace
tt "a record that cannot be written: the processing does not happen; [ldv] enabled = false writes none" test_no_record_no_processing_and_off
tt "a disclosure per push and per signal of an inbox page; inzage lists the person's processings (text, JSON by subject, activity, trace)" test_disclosure_and_inzage
tt "OTLP/HTTP JSON export: collector refusing, down, up; a restart; every span once, as stored, OTLP-valid" test_otlp_export_exactly_once_across_outage_and_restart
exit $((_failed > 0))
