#!/bin/bash
# Job leases of several nodes on one PostgreSQL database (issue 15,
# node.h): two processes of two nodes (data directories with the same
# keys) take the lease of one job; the second cannot while the first
# renews it, and takes it once the first stops renewing (killed) for
# [server] lease_seconds; a node that gives its leases up lets the other
# take them at once; two nodes asking at the same moment never both get
# one.  The nodes are build/tests/leasetool, the store's face as the
# daemon's heartbeat uses it.
. "$(dirname "$0")/../e2e/lib.sh"
. "$E2E/servers.sh"
. "$ROOT/tests/pg/cluster.sh"
. "$ROOT/tests/pg/nodes_lib.sh"
pg_start trust
LEASE=${SCHAKEL_LEASETOOL:-$ROOT/build/tests/leasetool}
LEASE_S=8	# [server] lease_seconds of both nodes

# two_nodes: $A (node a) and $B (node b) on a fresh database $PGDB
two_nodes() {
	PGDB=l_${BASHPID}_$RANDOM
	DSN=$(pg_createdb "$PGDB") || fail "createdb"
	A=$TMP/a.$PGDB
	B=$TMP/b.$PGDB
	pg_node "$A" a "$DSN"
	conf_in "$A" server lease_seconds "$LEASE_S"
	pg_node "$B" b "$DSN" "$A"
}
take() {	# take DIR JOB: prints held / not held
	"$LEASE" "$1" take "$2" || fail "leasetool take failed"
}
holder() {	# holder JOB: the holder in the database
	pg_sql "$PGDB" -c "SELECT holder FROM job_lease WHERE job = '$1'"
}

test_second_node_waits_until_the_first_stops_renewing() {
	two_nodes
	bg "$LEASE" "$A" hold purge 600 >a.out
	HOLD=$BPID
	until_ 30 grep -qx held a.out || fail "node a did not take the lease: $(cat a.out)"
	# For longer than a lease: a renews it every second, b never gets it.
	for i in $(seq $((LEASE_S + 3))); do
		[ "$(take "$B" purge)" = "not held" ] || fail "node b took a held lease (try $i)"
		sleep 1
	done
	[ "$(holder purge)" = a ] || fail "holder $(holder purge), expected a"
	grep -qx lost a.out && fail "node a lost its lease while renewing it"
	# Another job's lease is free for b.
	[ "$(take "$B" checkpoint)" = held ] || fail "node b cannot take another job"
	# a dies: no renewal.  Until its last lease ends b still waits, then takes it.
	kill -KILL "$HOLD"
	wait "$HOLD" 2>/dev/null
	[ "$(take "$B" purge)" = "not held" ] || fail "node b took the lease before it ran out"
	t0=$SECONDS
	until_ 60 sh -c "[ \"\$('$LEASE' '$B' take purge)\" = held ]" || fail "node b never took the lease over"
	note "node b took the lease over $((SECONDS - t0)) s after node a was killed (lease_seconds = $LEASE_S)"
	[ "$(holder purge)" = b ] || fail "holder $(holder purge), expected b"
	# a comes back: b holds it now.
	[ "$(take "$A" purge)" = "not held" ] || fail "node a took back b's lease"
	# b gives up its leases (it stops): a takes them at once.
	"$LEASE" "$B" drop || fail "drop"
	[ "$(take "$A" purge)" = held ] || fail "node a cannot take a lease given up"
	[ "$(take "$A" checkpoint)" = held ] || fail "node a cannot take the other lease given up"
	[ "$(holder purge)" = a ] || fail "holder $(holder purge), expected a"
}

# Two nodes asking for the same free lease at the same moment: one gets it.
test_two_nodes_at_once_never_both_hold() {
	two_nodes
	for i in $(seq 20); do
		"$LEASE" "$A" take "job$i" >a.$i &
		"$LEASE" "$B" take "job$i" >b.$i &
		wait
		got="$(cat a.$i) / $(cat b.$i)"
		case $got in
		"held / not held") [ "$(holder "job$i")" = a ] || fail "job$i: a held it, the database says $(holder "job$i")" ;;
		"not held / held") [ "$(holder "job$i")" = b ] || fail "job$i: b held it, the database says $(holder "job$i")" ;;
		*) fail "job$i: $got" ;;
		esac
	done
}

# The lease's end is on the database's clock (now() + lease_seconds), so
# the nodes' clocks do not matter; once that end has passed, it is free.
test_the_database_clock_decides() {
	two_nodes
	[ "$(take "$A" purge)" = held ] || fail "node a"
	until=$(pg_sql "$PGDB" -c "SELECT round(extract(epoch FROM until - now())) FROM job_lease WHERE job = 'purge'")
	[ "$until" -ge $((LEASE_S - 2)) ] && [ "$until" -le "$LEASE_S" ] || fail "the lease ends in $until s, not about $LEASE_S"
	[ "$(take "$B" purge)" = "not held" ] || fail "node b took it"
	pg_sql "$PGDB" -c "UPDATE job_lease SET until = now() - interval '1 second' WHERE job = 'purge'"
	[ "$(take "$B" purge)" = held ] || fail "node b did not take a lease that ran out"
}

t "a second node cannot take a held lease; takes it once the first stops renewing; a dropped lease at once" test_second_node_waits_until_the_first_stops_renewing
t "two nodes asking for a free lease at the same moment: exactly one holds it" test_two_nodes_at_once_never_both_hold
t "a lease lasts lease_seconds by the database's clock and ends there" test_the_database_clock_decides
echo "1..$_n"
[ "$_failed" -eq 0 ]
