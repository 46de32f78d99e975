#!/bin/bash
# Matching on PostgreSQL (issue 15): the same matcher (match.c,
# match_scan.c) over the PostgreSQL store's scans (store_pg_match.c) must
# raise, keep and end the same signals as over SQLite's.  Each test makes
# twins: $D on SQLite and $P on a fresh PostgreSQL database, with the same
# configuration and keys (so the same pseudonyms and signal ids), feeds
# both the same inputs and compares what they print.
. "$(dirname "$0")/../e2e/lib.sh"
. "$ROOT/tests/pg/cluster.sh"
pg_start
. "$ROOT/tests/pg/twins_lib.sh"

both() {	# both ARGS...: schakel ARGS on each twin; their outputs in sq.out, pg.out
	sk "$@" >sq.out 2>&1
	local a=$?
	skp "$@" >pg.out 2>&1
	local b=$?
	[ $a = $b ] || fail "exit $a on SQLite, $b on PostgreSQL: $(cat pg.out)" || return 1
}

# same_signals: every signal, ended or not, alike on both (all but the
# creation time and the trace, which differ between two runs)
same_signals() {
	sk signals --format json | jq -c 'del(.created, .trace_id)' >sq.sig || return 1
	skp signals --format json | jq -c 'del(.created, .trace_id)' >pg.sig || return 1
	[ -s pg.sig ] || fail "no signals on PostgreSQL" || return 1
	diff -u sq.sig pg.sig || fail "the signals differ" || return 1
}

test_six_signals_on_postgresql() {
	twins && ingest_both || return 1
	both match --as-of 2026-11-01 || return 1
	contains pg.out "6 signals hold, 6 new" || return 1
	diff sq.out pg.out || fail "match prints differently" || return 1
	skp signals | cut -c1-37 | sed 's/ *$//' >got
	diff -u "$ROOT/tests/e2e/expected/example-signals.txt" got || fail "not the six signals" || return 1
	same_signals || return 1
	# the same again: nothing new, nothing ended
	both match --as-of 2026-11-01 || return 1
	contains pg.out "6 signals hold, 0 new" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM signal')" = 6 ] || fail "signals doubled" || return 1
}

test_changed_and_dates_on_postgresql() {
	twins && ingest_both || return 1
	both match --changed --as-of 2026-11-01 || return 1	# no run before: full
	contains pg.out "6 new" || return 1
	# a finding changes (9 persons found at 2671AB 10 become 3): what
	# rested on it ends, on both
	sed 's/"aangetroffen_personen": 9/"aangetroffen_personen": 3/' "$FIX/inspectie.json" >changed.json
	sk ingest inspectie changed.json >/dev/null || return 1
	skp ingest inspectie changed.json >/dev/null || return 1
	both match --changed --as-of 2026-11-01 || return 1
	# (the PostgreSQL store marks a change of records as a full run yet:
	# the counts of addresses differ, the signals do not)
	contains pg.out "2 ended" || return 1
	same_signals || return 1
	grep -q '"ended_on":"2026-11-01"' pg.sig || fail "nothing ended on PostgreSQL" || return 1
	# the date moves on with no record changed: only the marks of the
	# dates (permits that expire, findings that leave the window) are
	# recomputed, by the scoped scans
	both match --changed --as-of 2027-03-01 || return 1
	diff sq.out pg.out || fail "match --changed prints differently after the date moved" || return 1
	same_signals || return 1
	skp log --kind match --format json | tail -1 | jq -e '.detail.marked > 0' \
		>/dev/null || fail "the last run on PostgreSQL was not scoped" || return 1
	# and a full run then finds nothing to change
	both match --as-of 2027-03-01 || return 1
	contains pg.out "0 new" || return 1
	same_signals || return 1
}

t "the examples' six signals on PostgreSQL, as on SQLite" test_six_signals_on_postgresql
t "match --changed on PostgreSQL raises and ends what SQLite's does, as records and the date change" test_changed_and_dates_on_postgresql
echo "1..$_n"
[ "$_failed" -eq 0 ]
