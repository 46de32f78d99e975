#!/bin/bash
# `schakel pull` on the PostgreSQL store: the paged feed of tests/e2e/pull/
# from tests/tools/testsource (mutual TLS, 127.0.0.1, port 0), pulled on
# SQLite and on PostgreSQL alike, then resumed from the stored cursor.
. "$(dirname "$0")/../e2e/lib.sh"
. "$E2E/servers.sh"
. "$ROOT/tests/pg/cluster.sh"
TESTSOURCE=${SCHAKEL_TESTSOURCE:-$ROOT/build/tests/testsource}
[ -x "$TESTSOURCE" ] || { echo "Bail out! no $TESTSOURCE (make unit)"; exit 1; }
PKI=$TMP/pki
"$ROOT/certs/mkcerts.sh" "$PKI" 00000001003214345000:NLA >/dev/null ||
	{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
pg_start trust

# pull_run: the feed's three pages on $D (made with the PKI and the source
# [source.inspectie] on the test source), pulled, a page added, pulled
# again; prints what both backends must print alike.
pull_run() {
	local src=$PWD/src.${1} tlog=$PWD/testsource.$1.log
	mkdir -p "$src"
	cp "$E2E/pull/feed" "$E2E/pull/feed.p2" "$E2E/pull/feed.p3" "$src/"
	launch "$tlog" "$TESTSOURCE" --dir "$src" --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --ca "$PKI/ca.crt"
	printf '\n[source.inspectie]\nadapter = inspectie\nurl = https://127.0.0.1:%s/feed\ninterval = 10\n' \
		"$LPORT" >>"$D/schakel.conf"
	sk pull; echo "rc=$?"
	sk pull; echo "rc=$?"	# from the cursor: page 3 again, nothing new
	sk log --kind pull --format json | jq -c '[.subject, .detail.outcome, .detail.page]'
	sk log verify; echo "rc=$?"
}

test_pull_on_both_backends() {
	sk init >/dev/null && cp -r "$PKI" "$D/certs" || fail "init"
	pull_run sqlite >sqlite.out 2>&1
	db "SELECT count(*), (SELECT cursor FROM source_state) FROM finding" >sqlite.rows
	D=$D.pg
	PGDB=p_$BASHPID
	DSN=$(pg_createdb "$PGDB") || fail "createdb"
	sk init >/dev/null && cp -r "$PKI" "$D/certs" || fail "init"
	sed -i "s|^backend = sqlite\$|backend = postgresql|; s|^dsn =\$|dsn = $DSN|" "$D/schakel.conf"
	rm -f "$D"/schakel.db*
	sk init >/dev/null || fail "pg init"
	pull_run pg >pg.out 2>&1
	pg_sql "$PGDB" -F '|' -c "SELECT count(*), (SELECT cursor FROM source_state) FROM finding" >pg.rows
	diff sqlite.out pg.out || fail "the backends pull differently"
	diff sqlite.rows pg.rows || fail "the backends keep different rows"
	grep -qx '5|p3' pg.rows || fail "not 5 findings and cursor p3: $(cat pg.rows)"
	grep -q "inspectie: page 3: 1 accepted" pg.out || fail "no third page: $(cat pg.out)"
	grep -q "exchange log intact" pg.out || fail "log verify"
}

t "pull reads a paged feed and resumes from its cursor, alike on SQLite and PostgreSQL" test_pull_on_both_backends
echo "1..$_n"
[ "$_failed" -eq 0 ]
