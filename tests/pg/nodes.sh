#!/bin/bash
# Two `schakel serve` nodes on one PostgreSQL database (issue 15, node.h):
# the checkpoint job runs on the node that holds its lease; killed, the
# other takes it over once the lease has run out, and signs what the log
# gained meanwhile; a node stopped with SIGTERM gives its leases up.  And a
# SIGHUP'ed change of parties on one node: the other refuses its parties
# 503 (and fails /healthz) until its file has them, then reloads by itself;
# /healthz names the database's state (ok, then the connection lost).
# Both tests are skipped (TAP "# skip", with the binary's reason) only while
# `schakel serve` says it is not supported with backend = postgresql.
. "$(dirname "$0")/../e2e/lib.sh"
. "$E2E/servers.sh"
. "$ROOT/tests/pg/cluster.sh"
. "$ROOT/tests/pg/nodes_lib.sh"

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national
pg_start trust
PKI=$TMP/pki
"$ROOT/certs/mkcerts.sh" "$PKI" $W:Westland $N:NLA >/dev/null ||
	{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }

q() {	# q SQL: one value from the test's database
	pg_sql "$PGDB" -c "$1"
}

# two_nodes: data directories $T/a and $T/b (nodes a and b, same keys and
# certificates, both parties) on a fresh database; exit 77 (a skip) when
# serve is not supported on PostgreSQL.
two_nodes() {
	T=${D%/data}
	mkdir -p "$T" && cd "$T" || fail "no test directory"
	PGDB=n_${BASHPID}_$RANDOM
	DSN=$(pg_createdb "$PGDB") || fail "createdb"
	pg_node "$T/a" a "$DSN"
	pg_serve_unsupported "$T/a" && { echo "SKIP: $SKIP_WHY"; exit 77; }
	cp -r "$PKI" "$T/a/certs"
	conf_in "$T/a" admin port 0
	conf_in "$T/a" server lease_seconds 4
	conf_in "$T/a" server reload_check 3
	conf_in "$T/a" log checkpoint_interval 1
	printf '\n[party.%s]\nname = Westland\ngemeenten = 1783\nsupplies = huisvesting\nreceives = all\n' $W >>"$T/a/schakel.conf"
	printf '\n[party.%s]\nname = NLA\nreceives = all\n' $N >>"$T/a/schakel.conf"
	pg_node "$T/b" b "$DSN" "$T/a"
}
_starts=0
node_start() {	# node_start NAME: serves $T/NAME; ${NAME}_PID, ${NAME}_PORT, ${NAME}_LOG
	_starts=$((_starts + 1))
	launch "$T/serve.$1.$_starts.log" "$SCHAKEL" -D "$T/$1" serve --port 0
	eval "${1}_PID=$LPID ${1}_PORT=$LPORT ${1}_LOG=$T/serve.$1.$_starts.log"
}
status_on() {	# status_on PORT OIN: GET /v1/signals by OIN on that node
	curl -sS -o body -w '%{http_code}' --max-time 30 --cacert "$PKI/ca.crt" \
		--cert "$PKI/party-$2.crt" --key "$PKI/party-$2.key" "https://127.0.0.1:$1/v1/signals" 2>curl.err
}
is() {	# is PORT OIN STATUS
	[ "$(status_on "$1" "$2")" = "$3" ]
}
holder() {
	q "SELECT holder FROM job_lease WHERE job = 'checkpoint' AND until > now()"
}
head_signed() {
	[ "$(q 'SELECT coalesce(max(seq), 0) FROM checkpoint')" = "$(q 'SELECT max(seq) FROM exlog')" ]
}

test_the_checkpoint_job_moves_to_the_other_node() {
	two_nodes
	node_start a
	node_start b
	until_ 30 eval '[ -n "$(holder)" ]' || fail "nobody holds the checkpoint lease"
	first=$(holder)
	other=$([ "$first" = a ] && echo b || echo a)
	note "node $first holds the checkpoint lease"
	# for longer than a lease, the holder keeps it (its heartbeat renews it)
	sleep 6
	[ "$(holder)" = "$first" ] || fail "the lease moved from $first to $(holder) while $first ran"
	eval "pid=\$${first}_PID"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	t0=$SECONDS
	until_ 60 eval '[ "$(holder)" = "$other" ]' || fail "node $other did not take the lease over: $(q 'SELECT holder, until, now() FROM job_lease')"
	note "node $other took the checkpoint lease $((SECONDS - t0)) s after node $first was killed (lease_seconds = 4)"
	# what the log gains now is signed by the new holder
	"$SCHAKEL" -D "$T/$other" ingest huisvesting "$FIX/huisvesting.csv" >ingest.out 2>&1 || fail "ingest: $(cat ingest.out)"
	until_ 30 head_signed || fail "the head was not signed after the take-over"
	# the holder stopped cleanly gives its leases up: the restarted node takes it
	node_start "$first"
	eval "pid=\$${other}_PID"
	stop "$pid"
	[ -z "$(q "SELECT job FROM job_lease WHERE holder = '$other'")" ] || fail "node $other kept leases after SIGTERM"
	until_ 30 eval '[ "$(holder)" = "$first" ]' || fail "node $first did not take the given-up lease"
	"$SCHAKEL" -D "$T/$first" log verify >verify.out 2>&1 || fail "log verify: $(cat verify.out)"
}

test_stale_parties_refused_on_the_other_node() {
	two_nodes
	node_start a
	node_start b
	is "$b_PORT" $N 200 || fail "node b before the change: $(status_on "$b_PORT" $N) $(cat body)"
	awk -v s="[party.$N]" '$0 == s { skip = 1; next } /^\[/ { skip = 0 } !skip' "$T/a/schakel.conf" >conf.new &&
		cp conf.new "$T/a/schakel.conf"
	kill -HUP "$a_PID"
	until_ 20 is "$a_PORT" $N 403 || fail "node a serves the dropped party"
	until_ 30 is "$b_PORT" $W 503 || fail "node b kept serving the old grants: $(status_on "$b_PORT" $W)"
	grep -q 'node a' body || fail "the 503 does not say why: $(cat body)"
	grep -q 'refusing parties' "$b_LOG" || fail "no log line on node b"
	aport=$(sed -n 's|.*operator page on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$b_LOG" | head -1)
	[ "$(curl -s -o hz -w '%{http_code}' "http://127.0.0.1:$aport/healthz")" = 503 ] || fail "node b's /healthz: $(cat hz)"
	jq -e '.database == "ok" and .node == "b"' hz >/dev/null || fail "/healthz: $(cat hz)"
	cp conf.new "$T/b/schakel.conf"
	conf_in "$T/b" server node b
	until_ 30 is "$b_PORT" $W 200 || fail "node b did not reload its changed file"
	is "$b_PORT" $N 403 || fail "node b serves the dropped party after its reload"
	# The database connection lost (the server ends it): /healthz says so.
	pg_sql postgres -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = '$PGDB' AND pid <> pg_backend_pid()" >/dev/null
	[ "$(curl -s -o hz -w '%{http_code}' "http://127.0.0.1:$aport/healthz")" = 503 ] || fail "/healthz with the connection lost: $(cat hz)"
	jq -e '.database != "ok" and (.database | test("connection|terminat"))' hz >/dev/null ||
		fail "/healthz does not name the lost connection: $(cat hz)"
	note "/healthz, the connection lost: $(jq -c .database hz)"
}

# A source is pulled by the node that holds its lease; killed, the other
# node takes the source over and pulls it on.
test_a_source_moves_to_the_other_node() {
	two_nodes
	mkdir -p "$T/src"
	cp "$FIX/huisvesting.csv" "$T/src/register.csv"
	launch "$T/testsource.log" "${SCHAKEL_TESTSOURCE:-$ROOT/build/tests/testsource}" --dir "$T/src" \
		--cert "$PKI/server.crt" --key "$PKI/server.key" --ca "$PKI/ca.crt"
	for n in a b; do
		printf '\n[source.reg]\nadapter = huisvesting\nurl = https://127.0.0.1:%s/register.csv\ninterval = 10\nparty = %s\n' \
			"$LPORT" $W >>"$T/$n/schakel.conf"
	done
	node_start a
	node_start b
	pull_holder() { q "SELECT holder FROM job_lease WHERE job = 'pull:reg' AND until > now()"; }
	until_ 30 eval '[ -n "$(pull_holder)" ]' || fail "nobody holds the source's lease"
	first=$(pull_holder)
	other=$([ "$first" = a ] && echo b || echo a)
	until_ 30 eval '[ "$(q "SELECT count(*) FROM dwelling")" -gt 0 ]' || fail "the source was not pulled"
	sleep 6
	[ "$(pull_holder)" = "$first" ] || fail "the source's lease moved while $first ran"
	eval "pid=\$${first}_PID"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	until_ 60 eval '[ "$(pull_holder)" = "$other" ]' || fail "node $other did not take the source over"
	before=$(grep -c 'GET /register.csv' "$T/testsource.log")
	until_ 30 eval '[ "$(grep -c "GET /register.csv" "$T/testsource.log")" -gt "$before" ]' ||
		fail "node $other does not pull the source"
	note "source pulled by node $first, then by node $other once $first was killed"
}

# run NAME FUNCTION: as t, with exit 77 from the test a TAP skip
run() {
	_n=$((_n + 1))
	(D=$(mktemp -d "$TMP/d-XXXXXX")/data; cd "$TMP"; "$2") >"$TMP/out" 2>&1
	case $? in
	0) echo "ok $_n - $1" ;;
	77) echo "ok $_n - $1 # skip $(sed -n 's/^SKIP: //p' "$TMP/out" | head -1)" ;;
	*) echo "not ok $_n - $1"; _failed=$((_failed + 1)); sed 's/^/#   /' "$TMP/out" | tail -30 ;;
	esac
}
run "serve on PostgreSQL: the checkpoint job runs on the lease's holder; killed, the other node takes it over; SIGTERM gives it up" test_the_checkpoint_job_moves_to_the_other_node
run "serve on PostgreSQL: a SIGHUP'ed change of parties on node a; node b refuses 503 and fails /healthz until its file has them" test_stale_parties_refused_on_the_other_node
run "serve on PostgreSQL: a source is pulled by its lease's holder; killed, the other node pulls it" test_a_source_moves_to_the_other_node
echo "1..$_n"
[ "$_failed" -eq 0 ]
