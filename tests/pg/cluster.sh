# tests/pg/cluster.sh - sourced by the PostgreSQL tests: a throw-away
# PostgreSQL 15 cluster in a temporary directory, started with initdb and
# pg_ctl, listening on 127.0.0.1 on a free port and on a Unix socket in
# that directory, stopped and removed when the sourcing shell exits.
#
#   pg_start [trust|password]   start it; sets PG_DIR, PG_PORT, PG_SOCK,
#                               PG_DSN (a database "schakel" made empty),
#                               PG_PASSWORD and PG_PASSFILE (password
#                               mode: scram-sha-256 over TCP, the password
#                               only in PG_PASSFILE)
#   pg_createdb NAME            an empty database; prints its DSN
#   pg_sql DB SQL...            runs SQL with psql on database DB
#   pg_stop                     stops and removes the cluster (the EXIT trap
#                               calls it)
#
# initdb refuses to run as root: as root (CI) the cluster belongs to the
# unprivileged user nobody, whose files sit in a directory of their own.
# Not executable: tests/run.sh does not run it.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || PG_BIN=$(dirname "$(command -v initdb 2>/dev/null || echo /x/initdb)")

_pg_as() {	# _pg_as CMD...: runs CMD as the cluster's owner
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

_pg_free_port() {	# a TCP port on 127.0.0.1 nobody listens on now
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
	local auth=${1:-trust} i
	[ -x "$PG_BIN/initdb" ] || { echo "Bail out! no initdb (apt-get install postgresql-15)"; exit 1; }
	PG_DIR=$(mktemp -d /tmp/schakel-pg-XXXXXX)
	chmod 755 "$PG_DIR"
	mkdir "$PG_DIR/data" "$PG_DIR/sock"
	[ "$(id -u)" = 0 ] && chown nobody: "$PG_DIR/data" "$PG_DIR/sock"
	_pg_prev=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT\$/\1/")
	trap "pg_stop; $_pg_prev" EXIT
	PG_PASSWORD=
	PG_PASSFILE=
	if [ "$auth" = password ]; then
		PG_PASSWORD="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
		printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
		chmod 644 "$PG_DIR/pwfile"
		_pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U schakel -A scram-sha-256 \
			--pwfile="$PG_DIR/pwfile" -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 ||
			{ echo "Bail out! initdb failed"; cat "$PG_DIR/initdb.log"; exit 1; }
		rm -f "$PG_DIR/pwfile"
		PG_PASSFILE=$PG_DIR/passfile
		printf '127.0.0.1:*:*:schakel:%s\n' "$PG_PASSWORD" >"$PG_PASSFILE"
		chmod 600 "$PG_PASSFILE"
	else
		_pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U schakel -A trust -E UTF8 \
			--no-locale >"$PG_DIR/initdb.log" 2>&1 ||
			{ echo "Bail out! initdb failed"; cat "$PG_DIR/initdb.log"; exit 1; }
	fi
	PG_SOCK=$PG_DIR/sock
	for i in 1 2 3 4 5; do	# a port taken between the probe and the start: another
		PG_PORT=$(_pg_free_port)
		if _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/data/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCK -c fsync=off" \
			start >/dev/null 2>&1; then
			break
		fi
		PG_PORT=
	done
	[ -n "$PG_PORT" ] || { echo "Bail out! pg_ctl start failed"; cat "$PG_DIR/data/server.log"; exit 1; }
	PG_DSN=$(pg_createdb schakel)
}

pg_sql() {	# pg_sql DB SQL...: psql on DB over the socket, as the superuser
	local db=$1; shift
	PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U schakel \
		-d "$db" "$@"
}

pg_createdb() {	# pg_createdb NAME: makes an empty database, prints its DSN
	pg_sql postgres -c "CREATE DATABASE \"$1\"" >/dev/null ||
		{ echo "Bail out! cannot create database $1" >&2; return 1; }
	echo "host=127.0.0.1 port=$PG_PORT dbname=$1 user=schakel"
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}
