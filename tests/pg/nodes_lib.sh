# tests/pg/nodes_lib.sh - sourced (after lib.sh, servers.sh and
# cluster.sh) by the tests of several nodes on one PostgreSQL database
# (lease.sh, failover.sh).  Not executable, so tests/run.sh does not run it.

# conf_in DIR SECTION KEY VALUE: sets KEY in [SECTION] of DIR/schakel.conf
conf_in() {
	sed -i "/^\[$2\]/,/^\[/ s|^$3 =.*|$3 = $4|" "$1/schakel.conf"
	grep -qx "$3 = $4" "$1/schakel.conf" || fail "cannot set $3 in [$2] of $1"
}

# pg_node DIR NAME DSN [FROM]: a data directory DIR of node NAME on the
# PostgreSQL database DSN; with FROM, a copy of FROM's (its keys, certs
# and configuration: the nodes of one database need the same keys).
pg_node() {
	local dir=$1 name=$2 dsn=$3 from=${4:-}
	if [ -n "$from" ]; then
		cp -rp "$from" "$dir" || fail "cannot copy $from"
		rm -rf "$dir/spool"
	else
		"$SCHAKEL" -D "$dir" init >/dev/null || fail "init of $dir"
		rm -f "$dir"/schakel.db*
		conf_in "$dir" store backend postgresql
		conf_in "$dir" store dsn "$dsn"
	fi
	conf_in "$dir" server node "$name"
	"$SCHAKEL" -D "$dir" init >/dev/null || fail "init of $dir on PostgreSQL"
}

# pg_serve_unsupported: true (and says why) when this build cannot run
# `schakel serve` on PostgreSQL yet; $1 a data directory on PostgreSQL.
pg_serve_unsupported() {
	timeout 20 "$SCHAKEL" -D "$1" serve --port 0 >"$TMP/serve-probe.out" 2>&1 &
	local pid=$! i
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		grep -q 'listening on' "$TMP/serve-probe.out" && break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep -q 'not yet supported with backend = postgresql' "$TMP/serve-probe.out" || return 1
	SKIP_WHY=$(grep -m1 'not yet supported' "$TMP/serve-probe.out")
}
