#!/bin/bash
# The brief's example files end to end: the six signals of
# expected-signals.md, in every output format, idempotent, logged.
. "$(dirname "$0")/lib.sh"

test_six_signals_exactly() {
	init_example && ingest_examples || fail "set-up failed"
	sk match --as-of 2026-11-01 >out || fail "match failed"
	contains out "6 signals hold, 6 new"
	sk signals | cut -c1-37 | sed 's/ *$//' >got
	diff -u "$E2E/expected/example-signals.txt" got || fail "signals differ"
}

test_json_lines_have_the_fields_of_matching_md() {
	init_example && ingest_examples && sk match --as-of 2026-11-01 >/dev/null || return 1
	sk signals --format json >out || fail "signals failed"
	[ "$(wc -l <out)" -eq 6 ] || fail "expected 6 lines"
	for f in '"id":' '"rule":' '"as_of":"2026-11-01"' '"address":' '"registered":' \
		'"observed":' '"oppervlakte_m2":' '"max_bewoners":' '"recipients":' '"evidence":'; do
		[ "$(grep -cF -- "$f" out)" -eq 6 ] || fail "not every line has $f"
	done
	grep -F '"rule":"OVERBEWONING"' out | grep -F '"postcode":"2671AB"' >line
	contains line '"registered":2,"observed":9,"oppervlakte_m2":48,"max_bewoners":null'
	contains line '"nummeraanduiding_id":"1783200000000010"'
	contains line '{"source":"inspectie","record":"NLA-2026-000101"}'
	contains line '{"source":"huisvesting","record":"2671AB 10"}'
	contains line '"recipients":["00000001000000001783","00000001003214345000"]'
	grep -F '"rule":"ADRES_AFWIJKING"' out >line
	grep -qE '"person":"[0-9a-f]{64}"' line || fail "no pseudonym"
	contains line '"registered_address":{"gemeentecode":"0983","postcode":"5911AB","huisnummer":20'
	contains line '"recipients":["00000001000000000983","00000001000000001783","00000001003214345000"]'
	grep -F '"rule":"GEEN_VERGUNNING"' out >line
	contains line '"recipients":["00000001000000001783"]'
	grep -F '"postcode":"5911AA"' out >line
	contains line '"huisnummertoevoeging":"2"'
}

test_xml_is_valid_against_the_signal_schema() {
	init_example && ingest_examples && sk match --as-of 2026-11-01 >/dev/null || return 1
	sk signals --format xml >out.xml || fail "signals failed"
	[ "$(grep -c '<signaal>' out.xml)" -eq 6 ] || fail "expected 6 signaal elements"
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" out.xml || fail "invalid XML"
}

test_rule_filter() {
	init_example && ingest_examples && sk match --as-of 2026-11-01 >/dev/null || return 1
	[ "$(sk signals --format json --rule OVERBEWONING | wc -l)" -eq 2 ] || fail "expected 2"
	[ "$(sk signals --format json --rule GEEN_VERGUNNING | wc -l)" -eq 1 ] || fail "expected 1"
}

test_match_twice_creates_nothing_new() {
	init_example && ingest_examples || return 1
	sk match --as-of 2026-11-01 >/dev/null || return 1
	sk match --as-of 2026-11-01 >out || return 1
	contains out "6 signals hold, 0 new"
	[ "$(db 'SELECT count(*) FROM signal')" -eq 6 ] || fail "signal count changed"
}

test_reingest_changes_nothing() {
	init_example && ingest_examples || return 1
	before=$(db "SELECT count(*) || '/' || (SELECT count(*) FROM dwelling) || '/' || (SELECT count(*) FROM finding) FROM person")
	expect_rc 3 sk ingest brp "$FIX/brp-npsLa01.xml" >out
	contains out "8 accepted (0 new or changed), 1 rejected"
	sk ingest huisvesting "$FIX/huisvesting.csv" >out && contains out "(0 new or changed)"
	sk ingest inspectie "$FIX/inspectie.json" >out && contains out "(0 new or changed)"
	after=$(db "SELECT count(*) || '/' || (SELECT count(*) FROM dwelling) || '/' || (SELECT count(*) FROM finding) FROM person")
	[ "$before" = "$after" ] || fail "counts changed: $before -> $after"
	[ "$before" = "12/6/5" ] || fail "unexpected counts $before"
}

test_elfproef_rejection_names_place_and_exits_3() {
	sk init >/dev/null || return 1
	expect_rc 3 sk ingest brp "$FIX/brp-npsLa01.xml" >out
	contains out "line 113 (object 9): BSN fails the elfproef"
	contains out "8 accepted"
	grep -q 999998620 out && fail "the BSN is echoed"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'reject'")" -eq 1 ] || fail "no reject entry"
	true
}

test_no_bsn_in_clear_in_the_data_directory() {
	init_example && ingest_examples && sk match --as-of 2026-11-01 >/dev/null || return 1
	sk signals --format json >/dev/null
	[ "$STORE" = sqlite ] || db_dump >"$D/dump.sql" || fail "cannot dump the database"
	# the BSNs themselves (not the first 9 digits of a 16-digit BAG id)
	bsns=$(grep -hoE 'inp.bsn>[0-9]{9}<|"bsn": *"[0-9]{9}"' "$FIX/brp-npsLa01.xml" \
		"$FIX/brp-venlo-npsLa01.xml" "$FIX/inspectie.json" | grep -oE '[0-9]{9}' | sort -u)
	[ "$(echo "$bsns" | wc -l)" -ge 10 ] || fail "too few BSNs in the fixtures: $bsns"
	for bsn in $bsns; do
		! grep -rqa "$bsn" "$D" || fail "BSN $bsn found in clear under $D"
	done
}

test_log_records_ingests_rejections_and_signals() {
	init_example && ingest_examples && sk match --as-of 2026-11-01 >/dev/null || return 1
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'ingest'")" -eq 4 ] || fail "ingest entries"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'signal'")" -eq 6 ] || fail "signal entries"
	db "SELECT detail FROM exlog WHERE kind = 'ingest' AND subject LIKE '%huisvesting.csv'" >detail
	contains detail "\"digest\":\"$(sha256sum "$FIX/huisvesting.csv" | cut -c1-64)\""
	contains detail '"accepted":6'
	sk log >out && contains out "reject"
	sk log verify >out || fail "verify failed"
	contains out "intact: 12 entries"
}

test_log_verify_names_the_tampered_entry() {
	init_example && ingest_examples || return 1
	unguard_log
	db "UPDATE exlog SET detail = replace(detail, '\"accepted\":6', '\"accepted\":7') WHERE seq = 4"
	[ "$(db 'SELECT detail FROM exlog WHERE seq = 4' | grep -c '"accepted":7')" -eq 1 ] || fail "tampering failed"
	expect_rc 1 sk log verify >out
	contains out "BROKEN at entry 4"
}

test_log_is_append_only() {
	init_example && ingest_examples || return 1
	db "DELETE FROM exlog WHERE seq = 1" 2>err && fail "delete allowed"
	contains err "append-only"
}

t "the example files raise exactly the six expected signals" test_six_signals_exactly
t "JSON Lines carry the fields of matching.md" test_json_lines_have_the_fields_of_matching_md
t "XML is valid against the signal schema" test_xml_is_valid_against_the_signal_schema
t "--rule filters signals" test_rule_filter
t "matching twice creates nothing new" test_match_twice_creates_nothing_new
t "re-ingesting the same files changes nothing" test_reingest_changes_nothing
t "an elfproef failure is rejected with its place, exit 3" test_elfproef_rejection_names_place_and_exits_3
t "no BSN in clear anywhere in the data directory" test_no_bsn_in_clear_in_the_data_directory
t "ingests, rejections and signals are logged" test_log_records_ingests_rejections_and_signals
t "log verify names the tampered entry" test_log_verify_names_the_tampered_entry
t "the exchange log is append-only" test_log_is_append_only
