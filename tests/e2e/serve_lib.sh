# tests/e2e/serve_lib.sh - sourced (after lib.sh) by the hardening scripts
# that start servers: hostile.sh, faults.sh, load.sh.  Not executable, so
# tests/run.sh does not run it.  Servers are started with launch and stopped
# when the test's subshell exits, however it exits.

. "$E2E/servers.sh"

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national

# section_set SECTION KEY VALUE: sets KEY in [SECTION] of schakel.conf
section_set() {
	sed -i "/^\[$1\]/,/^\[/ s|^$2 =.*|$2 = $3|" "$D/schakel.conf"
	grep -qx "$2 = $3" "$D/schakel.conf" || fail "cannot set $2 in [$1]"
}

# make_pki DIR OIN[:NAME]...: certs/mkcerts.sh, once per script run
make_pki() {
	"$ROOT/certs/mkcerts.sh" "$@" >/dev/null || { echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
}

# serve_setup PKI: a data directory $D with the PKI as certs/, the admin
# listener on a free port, GEEN_VERGUNNING for Westland; $T is the test's
# directory.  Parties are added with party.
serve_setup() {
	T=${D%/data}
	cd "$T" || fail "no test directory"
	sk init >/dev/null || fail "init failed"
	cp -r "$1" "$D/certs"
	sed -i 's/^gemeenten =$/gemeenten = 1783/' "$D/schakel.conf"
	section_set admin port 0
}

# party OIN NAME KEY=VALUE...: adds [party.OIN]
party() {
	local oin=$1 name=$2 kv; shift 2
	{
		printf '\n[party.%s]\nname = %s\n' "$oin" "$name"
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
	} >>"$D/schakel.conf"
}

_serves=0
serve() {	# serve: starts the daemon on $D; SPID, PORT, SLOG (serve.N.log)
	_serves=$((_serves + 1))
	SLOG=$T/serve.$_serves.log
	launch "$SLOG" "$SCHAKEL" -D "$D" serve --port 0
	SPID=$LPID
	PORT=$LPORT
}

# tls_raw OIN: an s_client for a hand-made request on stdin, response on stdout
tls_raw() {
	timeout 30 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$D/certs/ca.crt" \
		-cert "$D/certs/party-$1.crt" -key "$D/certs/party-$1.key" 2>s_client.err
}

# records: persons + dwellings + findings in $D's database
records() {
	db "SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM dwelling) + (SELECT count(*) FROM finding)"
}

aport() {	# APORT: the operator listener of the daemon whose log is $SLOG
	APORT=$(sed -n 's|.*operator page on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$SLOG" | head -1)
	[ -n "$APORT" ] || fail "the daemon did not say where its operator page is"
}
admin() {	# admin PATH [FILE]: GET from the operator listener into FILE (./abody); the status
	curl -sS -o "${2:-abody}" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$APORT$1" 2>curl.err
}
# hold_write_lock: a second process (sqlite3, pid $lpid, fed through fd 7)
# takes $D's write lock and keeps it until fd 7 is closed (release_write_lock).
hold_write_lock() {
	sqlite_only "holds SQLite's write lock with sqlite3"
	mkfifo ctl
	sqlite3 "$D/schakel.db" <ctl >locker.out 2>&1 &
	lpid=$!
	exec 7>ctl
	echo "BEGIN EXCLUSIVE; SELECT 'locked';" >&7
	until_ 5 grep -qx locked locker.out || fail "sqlite3 did not take the lock: $(cat locker.out)"
}
release_write_lock() {
	echo "COMMIT;" >&7
	exec 7>&-
	wait "$lpid"
}
