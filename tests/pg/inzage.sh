#!/bin/bash
# Access requests on PostgreSQL (issue 15): `schakel inzage BSN --format
# json` reads the exchanges and the processing records (store_pg_ldv.c)
# and must list the same ones as on SQLite.  Twins ($D on SQLite, $P on
# PostgreSQL, twins_lib.sh) with the same keys get the same inputs and
# match; what differs between two runs (times, trace and span ids, log
# sequence numbers) is left out of the comparison.
. "$(dirname "$0")/../e2e/lib.sh"
. "$ROOT/tests/pg/cluster.sh"
pg_start
. "$ROOT/tests/pg/twins_lib.sh"

# normal FILE: the exchanges (sorted: SQLite's come in its query plan's
# order, which ORDER BY does not fix) and the processings (in order) of
# an inzage's JSON, without what two runs cannot share
normal() {
	jq -c '{pseudonym, exchanges: ([.exchanges[] | del(.time, .seq, .created, .at, .trace_id)] | sort),
		records: [.dataverwerkingen.records[] | del(.trace_id, .span_id, .parent_span_id,
		.start_time, .end_time, .attributes["schakel.exlog_seq"], .schakel.exlog_seq)]}' "$1"
}

test_inzage_alike_on_both_stores() {
	twins && ingest_both || return 1
	sk match --as-of 2026-11-01 >/dev/null || fail "match on SQLite" || return 1
	skp match --as-of 2026-11-01 >/dev/null || fail "match on PostgreSQL" || return 1
	for bsn in 999993653 999900006; do
		sk inzage --format json $bsn >sq.json || fail "inzage $bsn on SQLite" || return 1
		skp inzage --format json $bsn >pg.json || fail "inzage $bsn on PostgreSQL: $(cat pg.json)" || return 1
		normal sq.json >sq.n && normal pg.json >pg.n || fail "not JSON" || return 1
		jq -e '(.exchanges | length) > 0 and (.records | length) > 3' pg.n >/dev/null ||
			fail "inzage $bsn on PostgreSQL lists too little: $(cat pg.n)" || return 1
		diff -u sq.n pg.n || fail "inzage $bsn differs between the stores" || return 1
	done
	# by activity and by trace: the same filters
	sk inzage --format json --activity ontvangen 999993653 | normal /dev/stdin >sq.n || return 1
	skp inzage --format json --activity ontvangen 999993653 | normal /dev/stdin >pg.n || return 1
	diff -u sq.n pg.n || fail "inzage --activity differs" || return 1
	tr=$(jq -r '.dataverwerkingen.records[0].trace_id' pg.json)
	skp inzage --format json --trace "$tr" 999900006 >pg.json || return 1
	jq -e --arg tr "$tr" '(.dataverwerkingen.records | length) > 0 and
		([.dataverwerkingen.records[] | .trace_id == $tr] | all)' pg.json >/dev/null ||
		fail "inzage --trace on PostgreSQL: other traces or none" || return 1
}

t "inzage --format json lists the same exchanges and processings on PostgreSQL as on SQLite" test_inzage_alike_on_both_stores
echo "1..$_n"
[ "$_failed" -eq 0 ]
