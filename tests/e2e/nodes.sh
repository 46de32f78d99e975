#!/bin/bash
# Several nodes on one database (issue 15, node.h), with the daemon: a
# SIGHUP'ed change of parties on one node must not let another serve the
# old grants for longer than [server] reload_check.  Two `serve` nodes
# (copies of one data directory: same keys, certificates and parties)
# share one database; node a's parties change and a is reloaded; node b,
# whose schakel.conf did not change, refuses every party 503 until its file
# has the same parties, then reloads it by itself; a node whose file
# already has them reloads without refusing; a stale node restarted with
# its old file stays stale and does not make the others so.
#
# The daemon runs on PostgreSQL only once serve/match/signals are built
# there (tests/pg/failover.sh); the nodes here share one SQLite database
# file ([store] database, an absolute path), which the node code treats
# the same way for the parties' digests (store_node_put/newest).
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

PKI=$TMP/pki
make_pki "$PKI" $W:Westland $N:NLA

# two_nodes: data directories $A (node a) and $B (node b) on $T/shared.db,
# reload_check 3 s; both parties known to both.
two_nodes() {
	sqlite_only "two nodes on one SQLite file; on PostgreSQL: tests/pg/nodes.sh"
	serve_setup "$PKI"
	party $W Westland supplies=brp receives=all
	party $N NLA supplies=inspectie,huisvesting receives=all
	section_set store database "$T/shared.db"
	section_set server reload_check 3
	section_set server lease_seconds 3
	sk init >/dev/null || fail "init on the shared database"
	rm -f "$D"/schakel.db*
	A=$D
	B=$T/b/data
	mkdir -p "$T/b"
	cp -rp "$A" "$B"
	section_set server node a
	D=$B section_set server node b
}
start() {	# start DIR: serves DIR; its pid and port in ${NAME}PID, ${NAME}PORT
	D=$1 serve
	eval "$2PID=$SPID $2PORT=$PORT $2LOG=$SLOG"
}
status_on() {	# status_on PORT OIN: the status of GET /v1/signals by OIN on that node
	PORT=$1 call "$2" /v1/signals
}
is() {	# is PORT OIN STATUS
	[ "$(status_on "$1" "$2")" = "$3" ]
}
drop_party() {	# drop_party DIR OIN: removes [party.OIN] from DIR's schakel.conf
	awk -v s="[party.$2]" '$0 == s { skip = 1; next } /^\[/ { skip = 0 } !skip' \
		"$1/schakel.conf" >"$1/schakel.conf.new" && mv "$1/schakel.conf.new" "$1/schakel.conf"
	grep -q "^\[party.$2\]" "$1/schakel.conf" && fail "cannot drop party $2"
	true
}

test_a_stale_node_refuses_503_until_its_file_has_the_parties() {
	two_nodes
	start "$A" A
	start "$B" B
	is "$BPORT" $N 200 || fail "node b before the change: $(status_on "$BPORT" $N)"
	drop_party "$A" $N
	kill -HUP "$APID"
	until_ 20 is "$APORT" $N 403 || fail "node a still serves the dropped party: $(status_on "$APORT" $N)"
	t0=$SECONDS
	until_ 30 is "$BPORT" $W 503 || fail "node b kept serving the old grants: $(status_on "$BPORT" $W)"
	note "node b refused its parties $((SECONDS - t0)) s after node a's reload (reload_check = 3)"
	grep -q 'node a' body || fail "the 503 does not say why: $(cat body)"
	is "$BPORT" $N 503 || fail "node b serves the party node a dropped"
	grep -q 'refusing parties: their grants here are stale' "$BLOG" || fail "no log line on node b"
	is "$APORT" $W 200 || fail "node a refuses its parties: $(status_on "$APORT" $W)"
	# b's /healthz fails, so that a balancer that checks it sends no one there.
	SLOG=$BLOG aport
	[ "$(admin /healthz)" = 503 ] || fail "node b's /healthz: $(cat abody)"
	jq -e '.failures | any(test("refusing parties"))' abody >/dev/null || fail "/healthz: $(cat abody)"
	# The operator brings b's file up to date (no SIGHUP): b reloads it itself.
	drop_party "$B" $N
	until_ 30 is "$BPORT" $W 200 || fail "node b did not reload its changed file: $(status_on "$BPORT" $W)"
	is "$BPORT" $N 403 || fail "node b serves the dropped party after its reload"
	grep -q 'serving them' "$BLOG" || fail "node b did not log that it serves again"
	[ "$(admin /healthz)" = 200 ] || fail "node b's /healthz after its reload: $(cat abody)"
}

test_a_node_whose_file_changed_too_reloads_without_refusing() {
	two_nodes
	start "$A" A
	start "$B" B
	drop_party "$A" $N
	drop_party "$B" $N
	kill -HUP "$APID"
	until_ 30 is "$BPORT" $N 403 || fail "node b serves the dropped party: $(status_on "$BPORT" $N)"
	is "$BPORT" $W 200 || fail "node b refuses"
	grep -q 'reloading it' "$BLOG" || fail "node b did not say it reloaded"
	grep -q 'refusing parties' "$BLOG" && fail "node b refused its parties"
	# and the way back: the party again on both, a reloaded by hand, b by itself
	party $N NLA supplies=inspectie receives=all
	D=$B party $N NLA supplies=inspectie receives=all
	kill -HUP "$APID"
	until_ 30 is "$BPORT" $N 200 || fail "node b did not take the party back: $(status_on "$BPORT" $N)"
	is "$APORT" $N 200 || fail "node a did not take the party back"
}

test_a_stale_node_restarted_stays_stale() {
	two_nodes
	start "$A" A
	start "$B" B
	drop_party "$A" $N
	kill -HUP "$APID"
	until_ 30 is "$BPORT" $W 503 || fail "node b kept serving: $(status_on "$BPORT" $W)"
	stop "$BPID"
	start "$B" B	# its old file: the old parties are not the newest for starting
	until_ 30 is "$BPORT" $W 503 || fail "node b restarted serves the old grants: $(status_on "$BPORT" $W)"
	sleep 3	# a beat or two: node a must not take b's old parties for new ones
	is "$APORT" $W 200 || fail "node a refuses since b restarted: $(status_on "$APORT" $W)"
	is "$APORT" $N 403 || fail "node a serves the dropped party"
}

# On SQLite the database is the node's alone: the store's lease is real
# (another name cannot take a held one), but the daemon runs its jobs
# whatever the table says, as it always did.
test_sqlite_the_single_node_always_holds_its_jobs() {
	sqlite_only "the one node of an SQLite database"
	serve_setup "$PKI"
	section_set log checkpoint_interval 1
	LEASE=${SCHAKEL_LEASETOOL:-$ROOT/build/tests/leasetool}
	[ "$("$LEASE" "$D" take purge)" = held ] || fail "the node cannot take its lease"
	[ "$("$LEASE" "$D" take purge)" = held ] || fail "the node cannot renew its lease"
	db "INSERT INTO job_lease VALUES ('checkpoint', 'elsewhere', unixepoch() + 3600)"
	section_set server node someone-else
	[ "$("$LEASE" "$D" take purge)" = "not held" ] || fail "another name took a held lease"
	section_set server node ""
	serve
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest"
	signed() { [ "$(db 'SELECT coalesce(max(seq), 0) FROM checkpoint')" = "$(db 'SELECT max(seq) FROM exlog')" ]; }
	until_ 30 signed || fail "no checkpoint signed on SQLite while the table names another holder"
}

t "a SIGHUP'ed change of parties on node a: node b refuses 503 until its file has them, then reloads by itself" test_a_stale_node_refuses_503_until_its_file_has_the_parties
t "a node whose file has the new parties reloads it at once, without refusing; and back" test_a_node_whose_file_changed_too_reloads_without_refusing
t "a stale node restarted with its old file stays stale; the node with the new parties keeps serving" test_a_stale_node_restarted_stays_stale
t "SQLite: the one node always holds its jobs (a checkpoint is signed whatever job_lease says)" test_sqlite_the_single_node_always_holds_its_jobs
echo "1..$_n"
[ "$_failed" -eq 0 ]
