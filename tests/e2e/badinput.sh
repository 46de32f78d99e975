#!/bin/bash
# Bad and hostile input: refused whole with its place and nothing stored,
# or bad records rejected one by one; no half files; memory that does not
# grow with the input.
. "$(dirname "$0")/lib.sh"
BAD=$E2E/bad

records() {
	db "SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM dwelling) + (SELECT count(*) FROM finding)"
}

# refused ADAPTER FILE TEXT: ingest exits 1, says TEXT, stores nothing, logs why
refused() {
	local before
	before=$(records)
	expect_rc 1 timeout 10 "$SCHAKEL" -D "$D" ingest "$1" "$2" >out
	contains out "refused, nothing stored"
	contains out "$3"
	[ "$(records)" -eq "$before" ] || fail "records were stored"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'reject' AND detail LIKE '%\"place\":\"file\"%'")" -ge 1 ] \
		|| fail "no log entry for the refusal"
	[ "$(db "SELECT count(*) FROM ingest")" -eq 0 ] || fail "an ingest row was kept"
}

test_truncated_xml_refused_with_line_and_column() {
	sk init >/dev/null && refused brp "$BAD/truncated.xml" "line 24, column 1"
}

test_xxe_file_refused() {
	sk init >/dev/null && refused brp "$BAD/xxe-file.xml" "DOCTYPE is not allowed"
	grep -q root: out && fail "file contents leaked"
	true
}

test_xxe_network_refused() {
	sk init >/dev/null && refused brp "$BAD/xxe-network.xml" "DOCTYPE is not allowed"
}

test_billion_laughs_refused_at_once() {
	sk init >/dev/null || return 1
	start=$(date +%s%N)
	refused brp "$BAD/billion-laughs.xml" "DOCTYPE is not allowed" || return 1
	# Not a timing assertion on the parser: expansion would take minutes and
	# gigabytes, so 10 s (the timeout above) is a bound no expansion meets.
	echo "# refused in $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

test_wrong_namespace_refused_naming_element_and_line() {
	sk init >/dev/null && refused brp "$BAD/wrong-namespace.xml" "line 3: root element 'npsLa01'"
}

test_misspelt_element_rejects_that_record_only() {
	sk init >/dev/null || return 1
	expect_rc 3 sk ingest brp "$BAD/misspelt-element.xml" >out
	contains out "line 52 (object 3): line 55: Element 'BG:aoa.postkode': This element is not expected"
	contains out "7 accepted"
	[ "$(db 'SELECT count(*) FROM person')" -eq 7 ] || fail "good records not stored"
}

test_csv_with_wrong_header_refused() {
	sk init >/dev/null && refused huisvesting "$BAD/wrong-header.csv" "line 1"
}

test_csv_bad_rows_rejected_one_by_one() {
	sk init >/dev/null || return 1
	expect_rc 3 sk ingest huisvesting "$BAD/bad-rows.csv" >out
	contains out "line 4: oppervlakte_m2 'veel' is not a whole number"
	contains out "line 5: huisnummer is missing"
	contains out "line 6: vergunning_geldig_tot '2026-02-30' is not a date"
	contains out "line 7: postcode '26710AB' is not 4 digits and 2 letters"
	contains out "2 accepted"
	[ "$(db 'SELECT count(*) FROM dwelling')" -eq 2 ] || fail "good rows not stored"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'reject'")" -eq 4 ] || fail "rejections not logged"
}

test_json_syntax_error_refused() {
	sk init >/dev/null && refused inspectie "$BAD/syntax-error.json" "line 1"
}

test_ingest_from_stdin() {
	sk init >/dev/null || return 1
	sk ingest huisvesting - <"$FIX/huisvesting.csv" >out || fail "stdin ingest failed"
	contains out "6 accepted"
}

test_unreadable_file_fails_cleanly() {
	sk init >/dev/null || return 1
	expect_rc 1 sk ingest brp "$TMP/does-not-exist.xml" >out
	contains out "cannot open"
}

test_killed_ingest_leaves_no_half_file() {
	sqlite_only "kills the ingest when SQLite's WAL has grown (tests/pg/store.sh kills one on PostgreSQL)"
	sk init >/dev/null || return 1
	"$ROOT/tests/tools/gen-brp.sh" 200000 >big.xml
	sk ingest brp big.xml >/dev/null &
	pid=$!
	# Kill it once it is well into the file (its WAL grows as it writes).
	for _ in $(seq 200); do
		[ -s "$D/schakel.db-wal" ] && [ "$(stat -c %s "$D/schakel.db-wal")" -gt 2000000 ] && break
		sleep 0.05
	done
	kill -9 $pid 2>/dev/null || fail "the ingest ended before it could be killed"
	wait $pid 2>/dev/null
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "half a file was stored"
	[ "$(db 'SELECT count(*) FROM ingest')" -eq 0 ] || fail "an ingest row was kept"
	sk log verify >/dev/null || fail "log broken after kill"
}

# Peak memory of ingesting N persons, in kB.
peak_kb() {
	"$ROOT/tests/tools/gen-brp.sh" "$1" >"p$1.xml"
	/usr/bin/time -f %M -o "rss$1" "$SCHAKEL" -D "$D" ingest brp "p$1.xml" >/dev/null || return 1
	cat "rss$1"
}

# SQLite's page cache grows with the database up to [store] cache_mib (16
# MiB by default) and no further; everything else must not grow at all.  So
# with a cache smaller than the first file's database, ten times the
# persons must not take noticeably more memory.
test_memory_does_not_grow_with_the_file() {
	[ -n "${SCHAKEL_SANITIZED:-}" ] && { echo "# skipped under sanitizers"; return 0; }
	sk init >/dev/null || return 1
	sed -i 's/^cache_mib = .*/cache_mib = 2/' "$D/schakel.conf"
	grep -q '^cache_mib = 2$' "$D/schakel.conf" || fail "cannot set cache_mib"
	small=$(peak_kb 20000) && big=$(peak_kb 200000) || fail "ingest failed"
	echo "# peak RSS with a 2 MiB page cache: 20,000 persons $small kB, 200,000 persons $big kB"
	[ $((big * 2)) -le $((small * 3)) ] || fail "200,000 persons took more than 1.5x the memory of 20,000"
}

t "a truncated XML file is refused with line and column" test_truncated_xml_refused_with_line_and_column
t "XXE (file) is refused" test_xxe_file_refused
t "XXE (network) is refused" test_xxe_network_refused
t "billion laughs is refused at once" test_billion_laughs_refused_at_once
t "a wrong namespace is refused naming element and line" test_wrong_namespace_refused_naming_element_and_line
t "a misspelt element rejects that record only" test_misspelt_element_rejects_that_record_only
t "a CSV with the wrong header is refused" test_csv_with_wrong_header_refused
t "bad CSV rows are rejected one by one" test_csv_bad_rows_rejected_one_by_one
t "a JSON syntax error is refused" test_json_syntax_error_refused
t "ingest reads stdin for -" test_ingest_from_stdin
t "an unreadable file fails cleanly" test_unreadable_file_fails_cleanly
t "a killed ingest leaves no half file" test_killed_ingest_leaves_no_half_file
t "memory does not grow with the file beyond the page cache (200k vs 20k persons)" test_memory_does_not_grow_with_the_file
