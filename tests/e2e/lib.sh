# tests/e2e/lib.sh - what every end-to-end script sources: TAP output, a
# fresh data directory per test, and the binary under test.
#
# Each test is a function; `t NAME FUNCTION` runs it and prints one TAP
# line.  A test fails with `fail "why"` (it returns non-zero).

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

fail() {
	echo "# $*"
	return 1
}

t() {	# t NAME FUNCTION: runs FUNCTION in a subshell with a fresh $D
	local name=$1 fn=$2
	_n=$((_n + 1))
	if (D=$(mktemp -d "$TMP/d-XXXXXX")/data; cd "$TMP"; "$fn") >"$TMP/out" 2>&1; then
		echo "ok $_n - $name"
	else
		echo "not ok $_n - $name"
		_failed=$((_failed + 1))
		sed 's/^/#   /' "$TMP/out" | tail -25
	fi
}

sk() {	# sk ARGS...: runs schakel on $D
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

db() {	# db SQL: runs SQL on the data directory's database
	sqlite3 "$D/schakel.db" "$@"
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

# metrics_unnode FILE [NODE]: fails unless every sample in the /metrics
# scrape FILE is labelled node="NODE" first (default: the host name, as
# [server] node is by default), then removes that label, so that checks
# of the samples read them as before.
metrics_unnode() {
	local node=${2:-$(hostname)}
	grep -v '^#' "$1" | grep -v "^[a-z_]*{node=\"$node\"[,}]" >unnode.bad &&
		fail "samples without node=\"$node\": $(head -3 unnode.bad)"
	sed -i "s/{node=\"$node\",/{/; s/{node=\"$node\"}//" "$1"
}
