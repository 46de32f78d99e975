# tests/e2e/lib.sh - what every end-to-end script sources: TAP output, a
# fresh data directory per test, and the binary under test.
#
# Each test is a function; `t NAME FUNCTION` runs it and prints one TAP
# line.  A test fails with `fail "why"`: it returns non-zero and records
# the failure, so that the test fails even when the check was not its last
# command (or ran in a $(...) subshell).  `sqlite_only WHY` skips a test on
# PostgreSQL (a TAP "# SKIP").
#
# The store: SCHAKEL_TEST_STORE=postgresql (`make test-pg-e2e`) runs every
# test on PostgreSQL: one throw-away cluster per script (tests/pg/cluster.sh)
# and a fresh database for every data directory `sk init` makes (its
# schakel.conf written with [store] backend = postgresql through
# SCHAKEL_INIT_DSN, docs/configuration.md).  Default: sqlite.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
SCHAKEL=${SCHAKEL:-$ROOT/build/schakel}
FIX=$ROOT/tests/fixtures
E2E=$ROOT/tests/e2e
TMP=$(mktemp -d /tmp/schakel-e2e-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
_n=0
_failed=0	# tests that failed so far
_failfile=$TMP/failed	# what fail recorded during the current test
_skipfile=$TMP/skipped	# why the current test skipped itself

STORE=${SCHAKEL_TEST_STORE:-sqlite}
# tests/pg/ start clusters of their own and compare the stores themselves
[ "$(basename "$(dirname "$0")")" = pg ] && STORE=sqlite
unset SCHAKEL_INIT_DSN
case $STORE in
sqlite) ;;
postgresql)
	. "$ROOT/tests/pg/cluster.sh"
	pg_start trust ;;
*) echo "Bail out! SCHAKEL_TEST_STORE=$STORE: sqlite or postgresql"; exit 1 ;;
esac

fail() {
	echo "# $*"
	echo "$*" >>"$_failfile"
	return 1
}

# sqlite_only WHY: ends the test as skipped on PostgreSQL (it is about the
# SQLite file itself); nothing on SQLite.
sqlite_only() {
	[ "$STORE" = sqlite ] && return 0
	echo "$*" >"$_skipfile"
	exit 0
}

t() {	# t NAME FUNCTION: runs FUNCTION in a subshell with a fresh $D
	local name=$1 fn=$2
	_n=$((_n + 1))
	rm -f "$_failfile" "$_skipfile"
	if (D=$(mktemp -d "$TMP/d-XXXXXX")/data; cd "$TMP"; "$fn") >"$TMP/out" 2>&1 &&
		[ ! -s "$_failfile" ]; then
		if [ -s "$_skipfile" ]; then
			echo "ok $_n - $name # SKIP on $STORE: $(head -1 "$_skipfile")"
		else
			echo "ok $_n - $name"
		fi
	else
		echo "not ok $_n - $name"
		_failed=$((_failed + 1))
		sed 's/^/#   /' "$TMP/out" | tail -25
	fi
}

# tt NAME FUNCTION: t, or a skip when $MISSING names a tool the script
# lacks.  NAME_TESTS=REGEX (API_TESTS for api.sh, ...) or TESTS=REGEX runs
# only the tests whose function name matches (for debugging).
_select=$(basename "$0" .sh | tr '[:lower:]-' '[:upper:]_')_TESTS
tt() {
	[[ $2 =~ ${!_select:-${TESTS:-.}} ]] || return 0
	if [ -n "${MISSING:-}" ]; then
		_n=$((_n + 1))
		echo "ok $_n - $1 # SKIP missing:$MISSING"
		return
	fi
	t "$@"
}

_dbs=0
sk() {	# sk ARGS...: runs schakel on $D (init: on PostgreSQL, a fresh database for a new $D)
	if [ "$STORE" = postgresql ] && [ "${1:-}" = init ] && [ ! -e "$D/schakel.conf" ]; then
		_dbs=$((_dbs + 1))
		SCHAKEL_INIT_DSN=$(pg_createdb "d_${BASHPID}_$_dbs") || fail "createdb" || return 1
		SCHAKEL_INIT_DSN=$SCHAKEL_INIT_DSN "$SCHAKEL" -D "$D" "$@"
		return
	fi
	"$SCHAKEL" -D "$D" "$@"
}

expect_rc() {	# expect_rc RC CMD...: runs CMD, fails unless it exits RC
	local want=$1; shift
	"$@" >"$TMP/cmd.out" 2>&1
	local got=$?
	cat "$TMP/cmd.out"
	[ "$got" -eq "$want" ] || fail "exit $got, expected $want: $*"
}

contains() {	# contains FILE TEXT: FILE has TEXT (fixed string)
	grep -qF -- "$2" "$1" || fail "'$2' not in output"
}

# A data directory with GEEN_VERGUNNING for Westland and three parties.
init_example() {
	sk init >/dev/null || return 1
	sed -i 's/^gemeenten =.*/gemeenten = 1783/' "$D/schakel.conf"
	cat >>"$D/schakel.conf" <<'CONF'
[party.00000001000000001783]
name = Gemeente Westland
gemeenten = 1783
receives = all

[party.00000001000000000983]
name = Gemeente Venlo
gemeenten = 0983
receives = all

[party.00000001003214345000]
name = Nederlandse Arbeidsinspectie
receives = OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING
CONF
}

ingest_examples() {
	sk ingest brp "$FIX/brp-npsLa01.xml" "$FIX/brp-venlo-npsLa01.xml" >/dev/null
	[ $? -eq 3 ] || return 1
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || return 1
	sk ingest inspectie "$FIX/inspectie.json" >/dev/null || return 1
}

# fresh_db: on PostgreSQL, points $D (a copy of another data directory) at
# a fresh database of its own and makes its schema; nothing on SQLite.
fresh_db() {
	[ "$STORE" = sqlite ] && return 0
	local dsn
	_dbs=$((_dbs + 1))
	dsn=$(pg_createdb "d_${BASHPID}_$_dbs") || return 1
	sed -i "s|^dsn = .*|dsn = $dsn|" "$D/schakel.conf"
	"$SCHAKEL" -D "$D" init >/dev/null
}

# db [-separator SEP] SQL: runs SQL on the data directory's database and
# prints the rows as sqlite3 does (columns joined by SEP, default |); on
# PostgreSQL with psql on the database of $D's [store] dsn.  Write SQL
# that runs on both.
db() {
	local sep='|' name
	if [ "${1:-}" = -separator ]; then
		sep=$2
		shift 2
	fi
	if [ "$STORE" = sqlite ]; then
		sqlite3 -separator "$sep" "$D/schakel.db" "$@"
		return
	fi
	name=$(sed -n 's/^dsn = .*dbname=\([^ ]*\).*/\1/p' "$D/schakel.conf")
	[ -n "$name" ] || { echo "# no [store] dsn in $D/schakel.conf"; return 1; }
	pg_sql "$name" -F "$sep" <<<"$*"
}

# logcount COND [LOG ARGS...]: how many entries of `schakel log --format
# json ARGS` the jq condition COND holds for (.kind, .party, .subject,
# .detail.KEY): the log as the command line shows it, on either store.
logcount() {
	local cond=$1
	shift
	sk log --format json "$@" | jq -s "map(select($cond)) | length"
}

# logj FILTER [LOG ARGS...]: jq -r FILTER over each entry of `schakel log
# --format json ARGS`, oldest first.
logj() {
	local filter=$1
	shift
	sk log --format json "$@" | jq -r "$filter"
}

# hex COLUMN: the SQL of COLUMN (a blob) in lower-case hex, on either store
hex() {
	if [ "$STORE" = sqlite ]; then
		echo "lower(hex($1))"
	else
		echo "encode($1, 'hex')"
	fi
}

# jlen COLUMN: the SQL of the length of COLUMN's JSON array, on either store
jlen() {
	if [ "$STORE" = sqlite ]; then
		echo "json_array_length($1)"
	else
		echo "json_array_length($1::json)"
	fi
}

# unguard_log: lifts the exchange log's append-only guard (its triggers),
# for a test that tampers with the log as someone with the database could.
unguard_log() {
	if [ "$STORE" = sqlite ]; then
		db "DROP TRIGGER exlog_no_update; DROP TRIGGER exlog_no_delete"
	else
		db "ALTER TABLE exlog DISABLE TRIGGER exlog_no_change" >/dev/null
	fi
}

db_dump() {	# db_dump: the whole PostgreSQL database of $D as SQL (pg_dump)
	local name
	name=$(sed -n 's/^dsn = .*dbname=\([^ ]*\).*/\1/p' "$D/schakel.conf")
	"$PG_BIN/pg_dump" -h "$PG_SOCK" -p "$PG_PORT" -U schakel "$name"
}

# call WHO PATH [CURL ARGS...]: one request to the daemon of $D on $PORT;
# the body in ./body, prints the status (000 when there was no response).
# WHO is an OIN (its certificate from $D/certs), a path without .crt/.key
# (a certificate elsewhere), or - (no client certificate).
call() {
	local who=$1 path=$2 cert=()
	shift 2
	case $who in
	-) ;;
	*/*) cert=(--cert "$who.crt" --key "$who.key") ;;
	*) cert=(--cert "$D/certs/party-$who.crt" --key "$D/certs/party-$who.key") ;;
	esac
	rm -f body
	curl -sS -o body -w '%{http_code}' --max-time 60 --cacert "$D/certs/ca.crt" "${cert[@]}" \
		"$@" "https://127.0.0.1:$PORT$path" 2>curl.err
	[ -f body ] || : >body
}

# want STATUS WHO PATH [CURL ARGS...]: call, and fail unless STATUS came.
want() {
	local status=$1 got
	shift
	got=$(call "$@")
	[ "$got" = "$status" ] ||
		fail "$2 by $1: status $got, expected $status: $(head -c 400 body) $(cat curl.err)"
}

# lk01 MUTATIESOORT [VERWERKINGSSOORT POSTCODE NR BEGINDATUM]...: an npsLk01
# of person 999900006 with one object per group of four (the last is the
# new state).
lk01() {
	local ms=$1
	shift
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	echo '<BG:npsLk01 xmlns:BG="http://www.egem.nl/StUF/sector/bg/0310" xmlns:StUF="http://www.egem.nl/StUF/StUF0301">'
	echo '<BG:stuurgegevens><StUF:berichtcode>Lk01</StUF:berichtcode><StUF:zender><StUF:organisatie>1783</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>20261101080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS</StUF:entiteittype></BG:stuurgegevens>'
	echo "<BG:parameters><StUF:mutatiesoort>$ms</StUF:mutatiesoort><StUF:indicatorOvername>V</StUF:indicatorOvername></BG:parameters>"
	while [ $# -ge 4 ]; do
		printf '<BG:object StUF:entiteittype="NPS" StUF:verwerkingssoort="%s"><BG:inp.bsn>999900006</BG:inp.bsn><BG:verblijfsadres><BG:aoa.postcode>%s</BG:aoa.postcode><BG:aoa.huisnummer>%s</BG:aoa.huisnummer><BG:begindatumVerblijf>%s</BG:begindatumVerblijf></BG:verblijfsadres><BG:inp.gemeenteVanInschrijving>1783</BG:inp.gemeenteVanInschrijving></BG:object>\n' "$1" "$2" "$3" "$4"
		shift 4
	done
	echo '</BG:npsLk01>'
}
