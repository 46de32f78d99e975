#!/bin/bash
# The PostgreSQL store writes records in batches (src/store_pg_records.c):
# what an ingest says it changed, rejected and stored must be what SQLite
# says for the same inputs, across batch boundaries, with repeats in one
# input, changes, re-ingests and territory refusals; and a batch that
# fails part-way through an input leaves nothing of that input.
. "$(dirname "$0")/../e2e/lib.sh"
. "$ROOT/tests/pg/cluster.sh"
pg_start

# pg_dir: $D on a fresh PostgreSQL database $PGDB (made by `schakel init`).
pg_dir() {
	PGDB=t_${BASHPID}_$RANDOM
	DSN=$(pg_createdb "$PGDB") || fail "createdb" || return 1
	mkdir -p "$D"
	printf '[store]\nbackend = postgresql\ndsn = %s\n' "$DSN" >"$D/schakel.conf"
	sk init >/dev/null || fail "pg init"
}

# inputs: the files of the scenario, in $PWD.  gen-match-*.sh data: three
# gemeenten, nummeraanduidingen given by some sources only, several
# persons an address; 2600 registrations (more than a batch of 1000).
inputs() {
	"$ROOT/bench/gen-match-brp.sh" 2600 >brp.xml &&
		"$ROOT/bench/gen-match-huisvesting.sh" 2600 >huis.csv &&
		"$ROOT/bench/gen-match-inspectie.sh" 2600 >insp.json || return 1
	# every fifth registration moves next door
	awk '/<BG:object/ && ++n % 5 == 0 { sub(/<BG:aoa.huisnummer>[0-9]*/, "&1") } 1' brp.xml >moved.xml
	# 300 registrations given twice in one input, the second time elsewhere
	awk '/<BG:object/ && ++n <= 300 { o = $0; sub(/<BG:aoa.huisnummer>[0-9]*/, "&7", o); extra = extra o "\n" }
		/<\/BG:antwoord>/ { printf "%s", extra } 1' brp.xml >twice.xml
	# one registration at an address of another gemeente than it is held under
	awk '/<BG:object/ && !/identificatie/ && ++n == 12 {
		sub(/gemeenteVanInschrijving>[0-9]*/, "gemeenteVanInschrijving>0518") } 1' brp.xml >other.xml
	# every fourth dwelling bigger; a few findings changed, repeated, or with persons gone
	awk -F';' -v OFS=';' 'NR > 1 && NR % 4 == 0 { $8 = $8 + 5 } 1' huis.csv >huis2.csv
	jq '.bevindingen |= (to_entries | map(if .key % 3 == 0 then .value.aangetroffen_personen += 1
		elif .key % 7 == 0 then .value.personen = .value.personen[:1] else . end | .value)) |
		.bevindingen += [.bevindingen[0], .bevindingen[5], (.bevindingen[2] | .aangetroffen_personen = 99)]' \
		insp.json >insp2.json
}

# scenario COUNTS: the ingests on $D, each one's output and code, then the rows COUNTS prints.
scenario() {
	local f
	for f in "brp brp.xml" "brp brp.xml" "huisvesting huis.csv" "inspectie insp.json" \
		"brp moved.xml" "brp twice.xml" "brp twice.xml" "brp other.xml" "huisvesting huis2.csv" \
		"huisvesting huis2.csv" "inspectie insp2.json" "inspectie insp2.json" "inspectie insp.json"; do
		# shellcheck disable=SC2086
		sk ingest $f 2>&1
		echo "rc=$?"
	done
	sk log --format json | jq -c 'del(.at, .hash, .prev, .trace_id)'
	"$1"
}

pg_counts() {
	pg_sql "$PGDB" -F '|' -c "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM dwelling),
		(SELECT count(*) FROM finding), (SELECT count(*) FROM finding_person),
		(SELECT count(*) FROM address), (SELECT count(*) FROM address WHERE nummeraanduiding IS NOT NULL),
		(SELECT count(*) FROM coverage), (SELECT count(*) FROM ingest)"
}

sqlite_counts() {
	db "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM dwelling),
		(SELECT count(*) FROM finding), (SELECT count(*) FROM finding_person),
		(SELECT count(*) FROM address), (SELECT count(*) FROM address WHERE nummeraanduiding IS NOT NULL),
		(SELECT count(*) FROM coverage), (SELECT count(*) FROM ingest)"
}

test_changes_counted_alike_on_both_backends() {
	inputs || fail "inputs" || return 1
	sk init >/dev/null || return 1
	(scenario sqlite_counts) >sqlite.out
	D=$D.pg
	pg_dir || return 1
	(scenario pg_counts) >pg.out
	diff sqlite.out pg.out || fail "the backends print differently" || return 1
	# the scenario does what it means to: changes, none on re-ingest, refusals
	grep -q '2600 accepted (2600 new or changed)' pg.out || fail "first ingest: $(head -2 pg.out)" || return 1
	grep -q '2600 accepted (0 new or changed)' pg.out || fail "no idle re-ingest" || return 1
	grep -q '2900 accepted (600 new or changed)' pg.out || fail "twice.xml: $(grep twice pg.out)" || return 1
	grep -q 'held under gemeentecode' pg.out || fail "no territory refusal" || return 1
	grep -q 'was given before in this input' pg.out || fail "no repeat refusal" || return 1
	[ "$(grep -c '"changed":0' pg.out)" -ge 3 ] || fail "too few idle re-ingests logged" || return 1
}

# A batch refused by the database half-way (a trigger that fails the
# 1500th person row: the batches of 1000 before it went through) fails
# the input; nothing of it stays, not even those batches, and the log has
# no entry of it.  Afterwards the same input goes in whole.
test_failed_batch_rolls_back_the_input() {
	pg_dir || return 1
	"$ROOT/tests/tools/gen-brp.sh" 3000 >big.xml || fail "gen-brp" || return 1
	pg_sql "$PGDB" -c "CREATE SEQUENCE boom_n;
		CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
			IF nextval('boom_n') = 1500 THEN RAISE EXCEPTION 'test: row refused'; END IF;
			RETURN NEW; END \$\$;
		CREATE TRIGGER boom BEFORE INSERT ON person FOR EACH ROW EXECUTE FUNCTION boom()" ||
		fail "trigger" || return 1
	expect_rc 1 sk ingest brp big.xml >out 2>&1 || return 1
	contains out "store persons" || return 1
	contains out "test: row refused" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT nextval($$boom_n$$)')" -gt 1500 ] || fail "the trigger did not fire" || return 1
	[ "$(pg_counts)" = "0|0|0|0|0|0|0|0" ] || fail "rows stayed: $(pg_counts)" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM exlog')" = 0 ] || fail "the failed input was logged" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM ldv_subject')" = 0 ] || fail "subjects stayed" || return 1
	pg_sql "$PGDB" -c "DROP TRIGGER boom ON person" || return 1
	sk ingest brp big.xml >out 2>&1 || fail "second try: $(cat out)" || return 1
	contains out "3000 accepted (3000 new or changed)" || return 1
	[ "$(pg_sql "$PGDB" -c 'SELECT count(*) FROM person')" = 3000 ] || fail "persons" || return 1
	sk log verify >out || fail "log verify: $(cat out)" || return 1
}

# A failure in the batch of the last records (written at the commit) fails the input too.
test_failed_last_batch_rolls_back() {
	pg_dir || return 1
	"$ROOT/bench/gen-match-huisvesting.sh" 1200 >huis.csv || return 1
	last=$(tail -1 huis.csv | cut -d';' -f3)
	pg_sql "$PGDB" -c "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
			IF NEW.addr LIKE '$last|%' THEN RAISE EXCEPTION 'test: last dwelling refused'; END IF;
			RETURN NEW; END \$\$;
		CREATE TRIGGER boom BEFORE INSERT ON dwelling FOR EACH ROW EXECUTE FUNCTION boom()" ||
		fail "trigger" || return 1
	expect_rc 1 sk ingest huisvesting huis.csv >out 2>&1 || return 1
	contains out "last dwelling refused" || return 1
	[ "$(pg_counts)" = "0|0|0|0|0|0|0|0" ] || fail "rows stayed: $(pg_counts)" || return 1
}

t "changes, refusals and rows alike on SQLite and PostgreSQL, across batches" test_changes_counted_alike_on_both_backends
t "a batch refused half-way through an input leaves nothing of the input" test_failed_batch_rolls_back_the_input
t "a refused last batch (written at the commit) leaves nothing either" test_failed_last_batch_rolls_back
echo "1..$_n"
[ "$_failed" -eq 0 ]
