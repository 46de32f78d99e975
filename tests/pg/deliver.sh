#!/bin/bash
# Signals, the inbox, feedback and pushed deliveries on PostgreSQL, end to
# end: `schakel serve` on a PostgreSQL database (tests/pg/cluster.sh)
# delivers to the reference receiver (`schakel receive`) over mutual TLS,
# answers the inbox and feedback, and the operator's listener; and the
# outbox's leases: a node killed mid-delivery loses its claims only when
# their lease lapses, and another node delivers them, under the same
# message ids, once.
#
# The signals: matching on PostgreSQL is not built yet (branch seam), so
# the matcher raises them on an SQLite twin of the data directory (the
# same keys, configuration and inputs) and its signal, recipient and
# outbox rows are copied into PostgreSQL as they are; the records
# themselves are ingested into PostgreSQL by `schakel ingest`.
#
# Needs curl, sqlite3, xmllint, xmlsec1 and jq.
. "$(dirname "$0")/../e2e/lib.sh"
. "$E2E/servers.sh"
. "$ROOT/tests/pg/cluster.sh"
pg_start

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national

MISSING=
for tool in curl sqlite3 xmllint xmlsec1 jq; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
PKI=$TMP/pki
if [ -z "$MISSING" ]; then
	"$ROOT/certs/mkcerts.sh" "$PKI" $W:Westland $N:NLA >/dev/null ||
		{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
fi

set_key() {	# set_key DIR SECTION KEY VALUE: sets KEY in [SECTION] of DIR's schakel.conf
	sed -i "/^\[$2\]/,/^\[/ s|^$3 =.*|$3 = $4|" "$1/schakel.conf"
	grep -qx "$3 = $4" "$1/schakel.conf" || fail "cannot set $3 in [$2]"
}

# setup PUSH_PORT: $D on a fresh PostgreSQL database ($PGDB), Westland
# pushed to 127.0.0.1:PUSH_PORT and the inspectorate reading its inbox;
# $S its SQLite twin, on which the fixtures are matched; the fixtures
# ingested into both, and the twin's signals and outbox copied in.
setup() {
	T=${D%/data}
	R=$T/received
	cd "$T" || fail "no test directory"
	sk init >/dev/null || fail "init failed"
	cp -r "$PKI" "$D/certs"
	sed -i 's/^gemeenten =$/gemeenten = 1783/' "$D/schakel.conf"
	set_key "$D" admin port 0
	set_key "$D" delivery backoff_initial 1
	set_key "$D" delivery backoff_max 2
	printf '\n[party.%s]\nname = Gemeente Westland\ngemeenten = 1783\nreceives = all\npush_url = https://127.0.0.1:%s/westland\n' \
		$W "$1" >>"$D/schakel.conf"
	printf '\n[party.%s]\nname = NLA\nreceives = all\n' $N >>"$D/schakel.conf"
	S=$T/twin
	cp -a "$D" "$S"
	PGDB=t_${BASHPID}_$RANDOM
	DSN=$(pg_createdb "$PGDB") || fail "createdb"
	set_key "$D" store backend postgresql
	set_key "$D" store dsn "$DSN"
	rm -f "$D"/schakel.db*
	sk init >/dev/null || fail "init on PostgreSQL failed"
	ingest_examples || fail "ingesting the fixtures into PostgreSQL failed"
	D=$S ingest_examples || fail "ingesting the fixtures into the twin failed"
	"$SCHAKEL" -D "$S" match --as-of 2026-11-01 >/dev/null || fail "match on the twin failed"
	copy_signals
}

# copy_signals: the twin's signals, recipients and outbox rows into $PGDB,
# column for column (a pseudonym as bytea).
copy_signals() {
	sqlite3 -csv "$S/schakel.db" "SELECT seq, id, rule, as_of, addr, hex(person), reg_addr,
		registered, observed, oppervlakte, max_bewoners, created, evidence, trace_id,
		ended_on FROM signal" >signal.csv
	sqlite3 -csv "$S/schakel.db" "SELECT oin, signal_seq FROM signal_recipient" >recipient.csv
	sqlite3 -csv "$S/schakel.db" "SELECT id, signal_id, oin, message_id, state, attempts,
		created, next_at FROM delivery" >delivery.csv
	pg_sql "$PGDB" >/dev/null <<SQL || fail "copying the signals failed"
CREATE TEMP TABLE s (seq bigint, id text, rule text, as_of text, addr text, person text,
	reg_addr text, registered bigint, observed bigint, oppervlakte bigint,
	max_bewoners bigint, created text, evidence text, trace_id text, ended_on text);
\copy s FROM '$T/signal.csv' CSV
INSERT INTO signal OVERRIDING SYSTEM VALUE SELECT seq, id, rule, as_of, addr,
	decode(nullif(person, ''), 'hex'), reg_addr, registered, observed, oppervlakte,
	max_bewoners, created, evidence, trace_id, ended_on FROM s;
\copy signal_recipient(oin, signal_seq) FROM '$T/recipient.csv' CSV
CREATE TEMP TABLE d (id bigint, signal_id text, oin text, message_id text, state text,
	attempts int, created bigint, next_at bigint);
\copy d FROM '$T/delivery.csv' CSV
INSERT INTO delivery(id, signal_id, oin, message_id, state, attempts, created, next_at)
	OVERRIDING SYSTEM VALUE SELECT * FROM d;
SELECT setval(pg_get_serial_sequence('signal', 'seq'), (SELECT max(seq) FROM signal));
SELECT setval(pg_get_serial_sequence('delivery', 'id'), (SELECT max(id) FROM delivery));
SQL
}

pgq() {	# pgq SQL: one value from the test's PostgreSQL database
	pg_sql "$PGDB" -c "$1"
}
deliveries() {	# deliveries [STATE]: how many, in PostgreSQL
	pgq "SELECT count(*) FROM delivery ${1:+WHERE state = '$1'}"
}
all_delivered() {
	[ "$(deliveries)" -gt 0 ] && [ "$(deliveries delivered)" -eq "$(deliveries)" ]
}
files() {	# the signals stored by the receiver
	find "$R" -maxdepth 1 -name '*.xml' ! -name '.*' 2>/dev/null | wc -l
}
claimed_by() {	# claimed_by NODE: the rows under NODE's claim
	pgq "SELECT count(*) FROM delivery WHERE locked_by = '$1'"
}
equals() {	# equals WANT CMD...: CMD prints WANT
	[ "$("${@:2}")" = "$1" ]
}
stored_lines() {
	cat "$T"/receive.*.log | grep -c 'verified and stored'
}

_receivers=0
receiver() {	# receiver [ARGS]: the reference receiver on $R; RPID, RPORT, RLOG
	_receivers=$((_receivers + 1))
	RLOG=$T/receive.$_receivers.log
	launch "$RLOG" "$SCHAKEL" receive --dir "$R" --port 0 --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --ca "$PKI/ca.crt" --broker-cert "$PKI/server.crt" "$@"
	RPID=$LPID
	RPORT=$LPORT
}

_serves=0
serve() {	# serve [DIR]: the daemon on DIR (default $D); SPID, PORT, SLOG, APORT
	_serves=$((_serves + 1))
	SLOG=$T/serve.$_serves.log
	launch "$SLOG" "$SCHAKEL" -D "${1:-$D}" serve --port 0
	SPID=$LPID
	PORT=$LPORT
	for _ in $(seq 100); do
		APORT=$(sed -n 's|.*operator page on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$SLOG" | head -1)
		[ -n "$APORT" ] && return 0
		sleep 0.05
	done
	fail "the daemon did not say where its operator page is"
}
admin() {	# admin PATH: GET from the operator listener into ./abody; the status
	curl -sS -o abody -w '%{http_code}' --max-time 30 "http://127.0.0.1:$APORT$1" 2>curl.err
}

# --- tests -------------------------------------------------------------------

test_signals_inbox_feedback_and_push_on_postgresql() {
	# a receiver first: Westland's push_url needs its port
	R=${D%/data}/received
	T=${D%/data}
	receiver
	setup "$RPORT"
	"$SCHAKEL" -D "$S" signals --format json | sort >sqlite.json
	sk signals --format json | sort >pg.json || fail "schakel signals on PostgreSQL failed"
	[ "$(wc -l <pg.json)" -eq 6 ] || fail "$(wc -l <pg.json) signals on PostgreSQL, expected 6"
	cmp -s sqlite.json pg.json || fail "the signals differ: $(diff sqlite.json pg.json | head -6)"
	want=$(grep -c "\"$W\"" pg.json)
	[ "$(deliveries pending)" -eq "$want" ] || fail "$(deliveries pending) pending, expected $want"
	serve
	until_ 30 all_delivered || fail "$(deliveries delivered) of $(deliveries) delivered in 30 s"
	[ "$(files)" -eq "$want" ] || fail "$(files) files received, expected $want"
	[ "$(stored_lines)" -eq "$want" ] || fail "the receiver stored $(stored_lines) times, expected $want"
	pgq "SELECT message_id FROM delivery ORDER BY 1" >ids
	find "$R" -maxdepth 1 -name '*.xml' ! -name '.*' -printf '%f\n' | sed 's/\.xml$//' | sort >got
	cmp -s ids got || fail "the files are not the deliveries' message ids"
	for f in "$R"/*.xml; do
		xmlsec1 --verify --pubkey-cert-pem "$PKI/server.crt" --enabled-key-data key-name "$f" \
			>xmlsec.out 2>&1 || { cat xmlsec.out; fail "${f##*/} does not verify"; }
		xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" "$f" 2>lint.out ||
			{ cat lint.out; fail "${f##*/} is not valid"; }
	done
	[ "$(pgq "SELECT count(*) FROM delivery WHERE locked_by IS NOT NULL OR lease_until IS NOT NULL")" = 0 ] ||
		fail "a delivered row kept its lease"
	# the inspectorate's inbox: every signal (it receives all, nationally)
	got=$(call $N "/v1/signals")
	[ "$got" = 200 ] || fail "inbox: $got $(head -c 300 body)"
	[ "$(jq '.signals | length' body)" -eq 6 ] || fail "the inbox holds $(jq '.signals | length' body) signals"
	id=$(jq -r '.signals[0].id' body)
	got=$(call $N "/v1/signals/$id/feedback" -X POST -H 'Content-Type: application/json' \
		--data '{"outcome": "bevestigd", "note": "ter plaatse gezien"}')
	[ "$got" = 201 ] || fail "feedback: $got $(head -c 300 body)"
	[ "$(pgq "SELECT count(*) FROM feedback WHERE outcome = 'bevestigd' AND oin = '$N'")" = 1 ] ||
		fail "the feedback is not in PostgreSQL"
	# the operator's listener: health (a real write), figures, the dashboard
	[ "$(admin /healthz)" = 200 ] || fail "/healthz: $(cat abody)"
	[ "$(admin /metrics)" = 200 ] || fail "/metrics: $(head -c 300 abody)"
	metrics_unnode abody
	grep -q "^schakel_deliveries{recipient=\"$W\",state=\"delivered\"} $want\$" abody ||
		fail "/metrics: $(grep schakel_deliveries abody)"
	grep -q '^schakel_feedback_total{rule="[A-Z_]*",outcome="bevestigd"} 1$' abody ||
		fail "/metrics: $(grep feedback abody)"
	[ "$(admin /)" = 200 ] || fail "the dashboard: $(head -c 300 abody)"
	grep -q "$W" abody || fail "the dashboard does not show Westland's backlog"
	stop "$SPID"
	sk deliveries >list || fail "schakel deliveries failed"
	[ "$(grep -c " delivered .* $W " list)" -eq "$want" ] || { cat list; fail "schakel deliveries"; }
	sk feedback >fb || fail "schakel feedback failed"
	grep -q bevestigd fb || { cat fb; fail "schakel feedback does not count it"; }
	sk log verify >/dev/null || fail "log verify failed"
}

# Node A claims deliveries and is killed with SIGKILL while the receiver
# holds its answers back; node B (another data directory with the same
# keys, on the same database) leaves A's rows alone while A's leases hold
# and then delivers them, under the message ids A sent, each stored once.
test_a_killed_nodes_claims_lapse_and_another_node_delivers() {
	R=${D%/data}/received
	T=${D%/data}
	receiver --delay 60000	# A's attempts never get an answer
	slow=$RPORT
	setup "$slow"
	set_key "$D" delivery timeout 10	# the lease: timeout + 10 s
	B=$T/b/data
	mkdir -p "$T/b"
	cp -a "$D" "$B"
	set_key "$D" server node node-a
	set_key "$B" server node node-b
	want=$(deliveries pending)
	claims=$((want < 4 ? want : 4))	# Westland's max_in_flight: 4
	serve
	until_ 8 equals "$claims" claimed_by node-a ||
		fail "node A did not claim $claims deliveries: $(claimed_by node-a)"
	kill -KILL "$SPID"
	wait "$SPID" 2>/dev/null
	sent_by_a=$(pgq "SELECT message_id FROM delivery WHERE locked_by = 'node-a' ORDER BY 1")
	lapse=$(pgq "SELECT min(lease_until) FROM delivery WHERE locked_by = 'node-a'")
	stop "$RPID"
	# a receiver that answers at once, on the same port Westland is pushed to
	R=$T/received
	receiver --port "$slow"
	serve "$B"
	# while A's leases hold, B sends nothing of them
	while [ "$(date +%s)" -lt $((lapse - 1)) ]; do
		for m in $sent_by_a; do
			[ ! -e "$R/$m.xml" ] || fail "node B delivered $m while node A's lease held"
		done
		sleep 0.2
	done
	until_ 40 all_delivered || fail "$(deliveries delivered) of $want delivered after A's leases lapsed"
	note "$claims of $want deliveries claimed by node A (killed), delivered by node B after the leases lapsed"
	[ "$(files)" -eq "$want" ] || fail "$(files) files, expected $want"
	for m in $sent_by_a; do	# the messages A sent, under A's ids
		grep -q "^schakel receive: $m: received at /westland" "$T/receive.1.log" ||
			fail "node A did not send $m"
		[ -e "$R/$m.xml" ] || fail "$m, claimed by node A, was not delivered under its id"
	done
	pgq "SELECT message_id FROM delivery ORDER BY 1" >ids
	find "$R" -maxdepth 1 -name '*.xml' ! -name '.*' -printf '%f\n' | sed 's/\.xml$//' | sort >got
	cmp -s ids got || fail "the files are not the deliveries' message ids"
	[ "$(stored_lines)" -eq "$want" ] || fail "stored $(stored_lines) times, expected $want"
	[ "$(pgq "SELECT count(*) FROM exlog WHERE kind = 'delivery' AND detail::jsonb ->> 'outcome' = 'delivered'")" -eq "$want" ] ||
		fail "not one 'delivered' entry per delivery"
	stop "$SPID"
	sk log verify >/dev/null || fail "log verify failed"
}

tt "signals, the inbox, feedback, pushes and the operator's listener on PostgreSQL" test_signals_inbox_feedback_and_push_on_postgresql
tt "a node killed mid-delivery: its claims lapse, another node delivers them once, same message ids" test_a_killed_nodes_claims_lapse_and_another_node_delivers
echo "1..$_n"
[ "$_failed" -eq 0 ]
