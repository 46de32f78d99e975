#!/bin/bash
# The PostgreSQL store (issue 15), against a real PostgreSQL 15 cluster this
# script starts (tests/pg/cluster.sh) with password authentication: every
# data directory reaches it through a passfile.  The same command-line
# scenario runs on SQLite and on PostgreSQL and must print the same.
. "$(dirname "$0")/../e2e/lib.sh"
. "$ROOT/tests/pg/cluster.sh"
pg_start password

# pg_conf DSN: points $D's schakel.conf (made if missing) at DSN, with
# $D/pgpass as the passfile, and forgets an SQLite database made before.
pg_conf() {
	mkdir -p "$D"
	[ -f "$D/schakel.conf" ] || printf '[store]\nbackend = sqlite\ndsn =\npassfile =\n' >"$D/schakel.conf"
	sed -i "s|^backend = sqlite\$|backend = postgresql|; s|^dsn =\$|dsn = $1|;
		s|^passfile =\$|passfile = pgpass|" "$D/schakel.conf"
	grep -qx "backend = postgresql" "$D/schakel.conf" || fail "cannot set backend"
	cp "$PG_PASSFILE" "$D/pgpass"
	rm -f "$D"/schakel.db*
}

# pg_dir: a fresh PostgreSQL database for this test: $PGDB, $DSN.
pg_dir() {
	PGDB=t_${BASHPID}_$RANDOM
	DSN=$(pg_createdb "$PGDB") || fail "createdb"
}

# scenario COUNTS: ingests, re-ingests, mutations, repeats, log searches
# and purges on $D, with the rows COUNTS (sqlite_counts or
# pg_counts) prints; what both backends must print alike (no times or
# hashes).
scenario() {
	local f counts=$1
	sk ingest brp "$FIX/brp-npsLa01.xml" "$FIX/brp-venlo-npsLa01.xml"; echo "rc=$?"
	sk ingest huisvesting "$FIX/huisvesting.csv"; echo "rc=$?"
	sk ingest inspectie "$FIX/inspectie.json"; echo "rc=$?"
	sk ingest inspectie "$FIX/inspectie.json"; echo "rc=$?"	# nothing changes
	sk ingest brp "$FIX/brp-npsLa01.xml"; echo "rc=$?"
	sed 's/"aangetroffen_personen": 9/"aangetroffen_personen": 7/' "$FIX/inspectie.json" >changed.json
	sk ingest inspectie changed.json; echo "rc=$?"
	jq '.bevindingen += [.bevindingen[0], (.bevindingen[1] | .aangetroffen_personen = 4),
		(.bevindingen[0] | .personen = [{"bsn": "999900006"}])]' "$FIX/inspectie.json" >repeats.json
	sk ingest inspectie repeats.json; echo "rc=$?"
	lk01 T T 2671AB 10 20250301 >t.xml
	lk01 W W 2671AB 10 20250301 W 2671AC 3 20250301 >c.xml
	lk01 V V 2671AC 3 20250301 >v.xml
	for f in t.xml c.xml v.xml v.xml; do sk ingest brp "$f"; echo "rc=$?"; done
	printf 'not xml' | sk ingest brp -; echo "rc=$?"
	sk log --format json | jq -c 'del(.at, .hash, .prev, .trace_id)'
	for f in "--kind ingest" "--kind reject" "--source huisvesting" "--id 3" "--status 5" \
		"--since 2000-01-01 --until 2999-12-31" "--since 2999-01-01" \
		"--id x'OR'1'='1" "--party 1);DROP-TABLE-exlog;--"; do
		echo "log $f:"
		# shellcheck disable=SC2086
		sk log $f --format json | jq -c .seq
	done
	"$counts"
	sk purge --as-of 2026-06-01; echo "rc=$?"	# nothing is a year old
	"$counts"
	sk purge --as-of 2099-01-01; echo "rc=$?"	# everything is
	"$counts"
	sk log --kind purge --format json | jq -c '[.subject, .detail]'
	sk log verify; echo "rc=$?"
}

pg_counts() {	# the rows of the records tables, as sqlite_counts
	pg_sql "$PGDB" -F '|' -c "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM dwelling),
		(SELECT count(*) FROM finding), (SELECT count(*) FROM finding_person),
		(SELECT count(*) FROM address), (SELECT count(*) FROM coverage),
		(SELECT count(*) FROM ingest)"
}

sqlite_counts() {
	db "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM dwelling),
		(SELECT count(*) FROM finding), (SELECT count(*) FROM finding_person),
		(SELECT count(*) FROM address), (SELECT count(*) FROM coverage),
		(SELECT count(*) FROM ingest)"
}

test_init_creates_the_schema() {
	pg_dir && pg_conf "$DSN" || return 1
	sk init >out || { cat out; fail "init failed"; }
	contains out "keys and database ready" || return 1
	[ ! -e "$D/schakel.db" ] || fail "an SQLite database was made" || return 1
	last=$(ls "$ROOT/schemas/pg" | sed -n 's/^\([0-9]\{3\}\)\.sql$/\1/p' | sort | tail -1)
	[ "$(pg_sql "$PGDB" -c 'SELECT max(version) FROM schema_migration')" = "$((10#$last))" ] ||
		fail "schema not at version $last" || return 1
	for tbl in address person dwelling finding finding_person ingest exlog checkpoint signal delivery; do
		[ "$(pg_sql "$PGDB" -c "SELECT to_regclass('$tbl') IS NOT NULL")" = t ] || fail "no table $tbl" || return 1
	done
	sk init >out || fail "second init failed" || return 1
	# once each (a number left free between branches' migrations is skipped)
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM schema_migration')" = \
		"$(ls "$ROOT/schemas/pg" | grep -c '^[0-9]\{3\}\.sql$')" ] ||
		fail "migrations applied twice" || return 1
	# the key's check value, not the key
	check=$(pg_sql "$PGDB" -c 'SELECT pseudonym_check FROM store_key')
	[[ $check =~ ^[0-9a-f]{64}$ ]] || fail "no check value: '$check'" || return 1
	key=$(od -An -tx1 "$D/keys/pseudonym.key" | tr -d ' \n')
	[ "$check" != "$key" ] || fail "the key itself is stored" || return 1
	pg_sql "$PGDB" -c "SELECT count(*) FROM store_key WHERE pseudonym_check LIKE '%${key:0:16}%'" |
		grep -qx 0 || fail "the key shows in store_key" || return 1
	# the log is append-only in the database too
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest" || return 1
	# the ingest's processing records are written too
	[ "$(pg_sql "$PGDB" -c "SELECT count(*) FROM ldv_span WHERE name = 'schakel.receive'")" = 1 ] ||
		fail "no processing record" || return 1
	! pg_sql "$PGDB" -c "UPDATE exlog SET kind = 'x'" 2>err || fail "exlog updated" || return 1
	contains err "append-only" || return 1
}

# SCHAKEL_INIT_DSN: init writes a new schakel.conf for PostgreSQL (what
# tests/e2e/lib.sh does for SCHAKEL_TEST_STORE=postgresql); a dsn with a
# password is refused before anything is written; a kept file stays as it is.
test_init_dsn_from_the_environment() {
	pg_dir || return 1
	SCHAKEL_INIT_DSN="$DSN" PGPASSFILE=$PG_PASSFILE sk init >out || fail "init: $(cat out)" || return 1
	grep -qx "backend = postgresql" "$D/schakel.conf" || fail "backend not written" || return 1
	grep -qxF "dsn = $DSN" "$D/schakel.conf" || fail "dsn not written" || return 1
	[ ! -e "$D/schakel.db" ] || fail "an SQLite database was made" || return 1
	[ "$(pg_sql "$PGDB" -c "SELECT to_regclass('exlog') IS NOT NULL")" = t ] || fail "no schema" || return 1
	cp "$D/schakel.conf" conf.before
	SCHAKEL_INIT_DSN="host=127.0.0.1 dbname=other" PGPASSFILE=$PG_PASSFILE sk init >out ||
		fail "second init: $(cat out)" || return 1
	cmp -s conf.before "$D/schakel.conf" || fail "the kept file changed" || return 1
	D=$D.2
	expect_rc 1 env SCHAKEL_INIT_DSN="$DSN password=Secret-$PGDB" "$SCHAKEL" -D "$D" init >out || return 1
	contains out "SCHAKEL_INIT_DSN must not hold the password" || return 1
	! grep -rqa "Secret-" out "$D" || fail "the password is shown or kept" || return 1
	[ ! -e "$D/schakel.conf" ] || fail "a schakel.conf was written" || return 1
	expect_rc 1 env SCHAKEL_INIT_DSN="host='unterminated" "$SCHAKEL" -D "$D" init >out || return 1
	contains out "SCHAKEL_INIT_DSN is not a libpq connection string" || return 1
}

test_same_scenario_on_both_backends() {
	init_example || return 1
	(scenario sqlite_counts) >sqlite.out 2>&1
	D=$D.pg
	pg_dir && init_example && pg_conf "$DSN" && sk init >/dev/null || fail "pg init" || return 1
	(scenario pg_counts) >pg.out 2>&1
	diff sqlite.out pg.out || fail "the backends print differently" || return 1
	grep -qx '11|6|5|3|8|2|12' pg.out || fail "not the rows expected: $(grep '^[0-9|]*$' pg.out)" || return 1
	grep -qx '0|0|0|0|8|0|0' pg.out || fail "the purge left records" || return 1
	contains pg.out "exchange log intact" || return 1
	contains pg.out "5 accepted (0 new or changed)" || return 1
	[ "$(grep -c '^{' pg.out)" -ge 15 ] || fail "too few log entries" || return 1
}

test_unreachable_server_is_a_clear_error() {
	port=$(_pg_free_port)
	pg_conf "host=127.0.0.1 port=$port dbname=nowhere user=schakel connect_timeout=5" || return 1
	expect_rc 1 sk init >out || return 1
	contains out 'cannot connect to PostgreSQL database "nowhere" on host 127.0.0.1 port '"$port" || return 1
	expect_rc 1 sk ingest huisvesting "$FIX/huisvesting.csv" >out || return 1
	contains out 'database "nowhere" on host 127.0.0.1' || return 1
	# a server that answers, a database that is not there
	D=$D.2
	pg_conf "host=127.0.0.1 port=$PG_PORT dbname=nosuchdb user=schakel" || return 1
	expect_rc 1 sk init >out || return 1
	contains out 'cannot connect to PostgreSQL database "nosuchdb" on host 127.0.0.1' || return 1
	contains out 'does not exist' || return 1
}

test_password_never_shown() {
	pg_dir && pg_conf "$DSN" || return 1
	printf '127.0.0.1:*:*:schakel:WrongPw-%s\n' "$PGDB" >"$D/pgpass"
	expect_rc 1 sk init >out || return 1
	contains out "password authentication failed" || return 1
	contains out "database \"$PGDB\" on host 127.0.0.1" || return 1
	! grep -q "WrongPw-" out || fail "the password is shown" || return 1
	# the right one, from the passfile key and from PGPASSFILE
	cp "$PG_PASSFILE" "$D/pgpass"
	sk init >out 2>&1 && sk ingest huisvesting "$FIX/huisvesting.csv" >>out 2>&1 ||
		fail "with the passfile: $(cat out)" || return 1
	sed -i 's|^passfile = pgpass$|passfile =|' "$D/schakel.conf"
	expect_rc 1 env -u PGPASSFILE -u PGPASSWORD HOME="$D" "$SCHAKEL" -D "$D" log >>out || return 1
	PGPASSFILE=$D/pgpass sk log verify >>out 2>&1 || fail "with PGPASSFILE: $(cat out)" || return 1
	contains out "exchange log intact: 1 entries" || return 1
	! grep -rqa -- "$PG_PASSWORD" out "$D/schakel.conf" || fail "the password is shown or kept" || return 1
	true
}

test_node_with_another_key_refused() {
	pg_dir && pg_conf "$DSN" && sk init >/dev/null || fail "first node" || return 1
	A=$D
	D=$D.b
	pg_conf "$DSN" || return 1
	expect_rc 1 sk init >out || return 1
	contains out "the pseudonym key (keys/pseudonym.key) is not the one PostgreSQL database \"$PGDB\"" || return 1
	expect_rc 1 sk ingest huisvesting "$FIX/huisvesting.csv" >out || return 1
	contains out "is not the one" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM ingest')" = 0 ] || fail "the other node wrote" || return 1
	# with the first node's keys it is a node of the same database
	cp "$A/keys/"* "$D/keys/"
	sk ingest huisvesting "$FIX/huisvesting.csv" >out || fail "with the same keys: $(cat out)" || return 1
}

test_every_command_runs() {
	pg_dir && pg_conf "$DSN" && sk init >/dev/null || return 1
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "ingest" || return 1
	# the signals, feedback and the outbox (tests/pg/deliver.sh), matching
	# (tests/pg/match.sh) and access requests (tests/pg/inzage.sh)
	for c in "signals" "feedback" "deliveries" "match" "inzage 999900006"; do
		# shellcheck disable=SC2086
		sk $c >out 2>&1 || fail "schakel $c on PostgreSQL: $(cat out)" || return 1
		! grep -q "not yet supported" out || fail "schakel $c refused" || return 1
	done
}

# Two nodes (data directories with the same keys) ingest at once: appends
# are serialised, the log stays one chain, nothing is lost.
test_concurrent_writers_keep_one_chain() {
	pg_dir && pg_conf "$DSN" && sk init >/dev/null || return 1
	A=$D
	D=$D.b
	pg_conf "$DSN" && mkdir -m 700 "$D/keys" && cp -p "$A/keys/"* "$D/keys/" || return 1
	sk init >/dev/null || fail "second node" || return 1
	# only rejections: no record rows whose locks would serialise the
	# ingests anyway; each writes 4 reject entries and 1 ingest entry
	sed '2,3d' "$E2E/bad/bad-rows.csv" >rejects.csv
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		"$SCHAKEL" -D "$A" ingest huisvesting rejects.csv >"out.$i.a" 2>&1 &
		"$SCHAKEL" -D "$D" ingest huisvesting rejects.csv >"out.$i.b" 2>&1 &
	done
	wait
	[ "$(cat out.*.* | grep -c '0 accepted (0 new or changed), 4 rejected')" = 24 ] ||
		fail "an ingest failed: $(grep -h schakel out.*)" || return 1
	sk log verify >out || fail "log verify: $(cat out)" || return 1
	contains out "exchange log intact: 120 entries" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM ingest')" = 24 ] || fail "ingests lost" || return 1
}

test_no_bsn_in_clear_in_the_database() {
	pg_dir && init_example && pg_conf "$DSN" && sk init >/dev/null || return 1
	ingest_examples || fail "ingest" || return 1
	"$PG_BIN/pg_dump" -h "$PG_SOCK" -p "$PG_PORT" -U schakel "$PGDB" >dump.sql 2>err ||
		PGPASSWORD=$PG_PASSWORD "$PG_BIN/pg_dump" -h "$PG_SOCK" -p "$PG_PORT" -U schakel \
			"$PGDB" >dump.sql || fail "pg_dump" || return 1
	[ "$(grep -c 'COPY public.person' dump.sql)" = 1 ] || fail "no person table in the dump" || return 1
	bsns=$(grep -hoE 'inp.bsn>[0-9]{9}<|"bsn": *"[0-9]{9}"' "$FIX/brp-npsLa01.xml" \
		"$FIX/brp-venlo-npsLa01.xml" "$FIX/inspectie.json" | grep -oE '[0-9]{9}' | sort -u)
	[ "$(echo "$bsns" | wc -l)" -ge 10 ] || fail "too few BSNs in the fixtures: $bsns" || return 1
	for bsn in $bsns; do
		! grep -qa "$bsn" dump.sql || fail "BSN $bsn found in clear in the database" || return 1
	done
	true
}

# One transaction per input: a client killed in the middle of an ingest
# leaves none of it (the server rolls the transaction back).
test_killed_ingest_leaves_nothing() {
	pg_dir && pg_conf "$DSN" && sk init >/dev/null || return 1
	"$ROOT/tests/tools/gen-brp.sh" 20000 >big.xml || fail "gen-brp" || return 1
	sk ingest brp big.xml >out 2>&1 &
	pid=$!
	for _ in $(seq 100); do	# until its transaction has written rows, or it ended
		[ "$(pg_sql "$PGDB" -c "SELECT count(*) FROM pg_stat_activity
			WHERE datname = '$PGDB' AND state = 'idle in transaction'")" != 0 ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	sleep 0.5
	n=$(pg_sql "$PGDB" -c 'SELECT count(*) FROM person')
	[ "$n" = 0 ] || [ "$n" = 20000 ] || fail "$n of 20000 persons stored" || return 1
	[ "$n" = 0 ] || echo "# the ingest ended before it was killed"
	sk log verify >out || fail "log verify" || return 1
}

t "init on an empty PostgreSQL database creates the schema (versioned), once" test_init_creates_the_schema
t "SCHAKEL_INIT_DSN: init writes a PostgreSQL schakel.conf; a password in it is refused" test_init_dsn_from_the_environment
t "the same command-line scenario prints the same on SQLite and PostgreSQL" test_same_scenario_on_both_backends
t "an unreachable server or missing database is a clear error naming host and database" test_unreachable_server_is_a_clear_error
t "the password comes from a passfile or PGPASSFILE and is never shown" test_password_never_shown
t "a node whose pseudonym key differs from the database's is refused" test_node_with_another_key_refused
t "every command runs on PostgreSQL (none refused as not yet supported)" test_every_command_runs
t "two nodes ingesting at once keep one hash chain" test_concurrent_writers_keep_one_chain
t "no BSN in clear in the PostgreSQL database" test_no_bsn_in_clear_in_the_database
t "an ingest killed half-way leaves nothing of its input" test_killed_ingest_leaves_nothing
echo "1..$_n"
[ "$_failed" -eq 0 ]
