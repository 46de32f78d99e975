# twins_lib.sh - twin data directories for comparing the two stores
# (sourced by tests/pg/match.sh and inzage.sh, after lib.sh and
# cluster.sh's pg_start): $D on SQLite and $P on a fresh PostgreSQL
# database, with the same configuration and keys, so the same pseudonyms
# and signal ids.

skp() {	# skp ARGS...: runs schakel on the PostgreSQL twin $P
	"$SCHAKEL" -D "$P" "$@"
}

# twins: init_example on $D (SQLite), copied to $P and pointed at a new
# database $PGDB (trust authentication: the dsn is enough).
twins() {
	init_example || return 1
	P=$D.pg
	cp -a "$D" "$P"
	rm -f "$P"/schakel.db*
	PGDB=t_${BASHPID}_$RANDOM
	DSN=$(pg_createdb "$PGDB") || fail "createdb" || return 1
	sed -i "s|^backend = sqlite\$|backend = postgresql|; s|^dsn =\$|dsn = $DSN|" "$P/schakel.conf"
	grep -qx "backend = postgresql" "$P/schakel.conf" || fail "cannot set backend" || return 1
	skp init >/dev/null || fail "init on PostgreSQL" || return 1
}

ingest_both() {
	ingest_examples || fail "ingest on SQLite" || return 1
	(D=$P; ingest_examples) || fail "ingest on PostgreSQL" || return 1
}

