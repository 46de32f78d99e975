#!/bin/bash
# Filters that say nothing (issue 13.7): a bad date or value in any filter
# of any command is a usage error (exit 2, a message naming the option and
# the value), and on the API and the operator's /api/log a 400 that names
# the parameter; never an empty or a whole answer.  Good filters still work.
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

for tool in sqlite3 curl openssl; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP no $tool"; exit 0; }
done
PKI=$TMP/pki
make_pki "$PKI" $W:Westland

# usage OPTION VALUE CMD...: exit 2, stderr names OPTION and VALUE, nothing on stdout
usage() {
	local opt=$1 val=$2 shown
	shift 2
	"$SCHAKEL" -D "$D" "$@" >out 2>err
	local rc=$?
	[ "$rc" -eq 2 ] || fail "$* exited $rc, expected 2: $(head -c 300 out) $(cat err)"
	shown=$(printf '%s' "$val" | sed 's/\x1b/\\x1b/g')
	grep -qF -- "$opt" err || fail "$*: '$opt' not in: $(cat err)"
	grep -qF -- "$shown" err || fail "$*: '$shown' not in: $(cat err)"
	[ ! -s out ] || fail "$*: printed $(head -c 300 out)"
	! grep -q $'\x1b' err || fail "$*: a raw ESC in the message"
}

cli_log_dates() {
	init_example && ingest_examples || fail "setup"
	for v in 2026-13-01 2026-02-30 garbage 2026-11-01T24:00 2026-11-01T08:60 \
		2026-11-01T08:00:61 2026-11-01T08:00:00+01:00 2026-11-01T08:00:00.Z 20261101 \
		2026-11-1 ' 2026-11-01' '2026-11-01 '; do
		usage --since "$v" log --since "$v"
		usage --until "$v" log --until "$v"
	done
	usage --since 2026-11-02 log --since 2026-11-02 --until 2026-11-01
}

cli_log_values() {
	init_example && ingest_examples || fail "setup"
	usage --kind nosuch log --kind nosuch
	usage --kind INGEST log --kind INGEST
	usage --party 1783 log --party 1783
	usage --party 0000000100000000178x log --party 0000000100000000178x
	usage --recipient westland log --recipient westland
	usage --status 4o1 log --status 4o1
	usage --status 4010 log --status 4010
	usage --source 'brp brp' log --source 'brp brp'
	usage --id $'NLA\x1b[2J' log --id $'NLA\x1b[2J'
	usage --id '' log --id ''
}

cli_log_good_filters() {
	local n all
	init_example && ingest_examples || fail "setup"
	all=$(sk log --format json | wc -l)
	[ "$all" -gt 3 ] || fail "only $all entries"
	n=$(sk log --format json --since 2000-01-01 --until 2999-12-31 | wc -l)
	[ "$n" -eq "$all" ] || fail "since 2000 until 2999: $n of $all"
	n=$(sk log --format json --since 2999-01-01T00:00:00.000Z | wc -l)
	[ "$n" -eq 0 ] || fail "since 2999: $n entries"
	today=$(date -u +%F)
	n=$(sk log --format json --since "${today}T00:00" --until "$today" | wc -l)
	[ "$n" -eq "$all" ] || fail "today from 00:00 until today (the whole day): $n of $all"
	n=$(sk log --format json --kind ingest --party $W | wc -l)
	[ "$n" -eq 0 ] || fail "local ingests have no party: $n"
	n=$(sk log --format json --kind ingest --source huisvesting | wc -l)
	[ "$n" -eq 1 ] || fail "one huisvesting ingest: $n"
	expect_rc 0 sk log --status stored >/dev/null
}

cli_other_commands() {
	init_example && ingest_examples || fail "setup"
	usage --rule NOPE signals --rule NOPE
	usage --rule overbewoning signals --rule overbewoning
	for v in 2026-13-01 garbage 2026-02-29 ''; do
		usage --as-of "$v" purge --as-of "$v"
		usage --as-of "$v" match --as-of "$v"
	done
	for v in +5 ' 5' 5x 0x5 -5 99999999999999999999 0; do
		"$SCHAKEL" -D "$D" deliveries retry "$v" >out 2>err
		[ $? -eq 2 ] || fail "deliveries retry '$v': exit $?, expected 2: $(cat out err)"
		grep -qF -- "$v" err || grep -qF 'delivery ID' err || fail "deliveries retry '$v': $(cat err)"
	done
	usage --failed2 deliveries --failed2
	[ "$(db 'SELECT count(*) FROM exlog WHERE kind = "purge"')" -eq 0 ] || fail "a purge ran"
}

# api_bad PATH TEXT: 400 with TEXT for Westland
api_bad() {
	want 400 $W "$1"
	grep -qF -- "$2" body || fail "$1: '$2' not in $(cat body)"
}

api_params() {
	serve_setup "$PKI"
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	serve
	want 200 $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml"
	for ep in /v1/signals /v1/log; do
		for q in after=-1 after=+1 after=%201 'after=1%20' after=1x after=0x1 \
			after=99999999999999999999 limit=0 limit=1001 limit=+5 limit=5.0 \
			limit=99999999999999999999; do
			api_bad "$ep?$q" "after must be"
		done
		api_bad "$ep?since=2026-13-01" "unknown query parameter 'since'"
		api_bad "$ep?until=garbage" "unknown query parameter 'until'"
		api_bad "$ep?cursor=5" "unknown query parameter 'cursor'"
		api_bad "$ep?limit=5&limit=6" "query parameter 'limit' given twice"
		api_bad "$ep?after=1&after=1" "query parameter 'after' given twice"
		api_bad "$ep?after" "query parameter 'after' has no value"
		api_bad "$ep?after=" "query parameter 'after' has no value"
		api_bad "$ep?after=%0a1" "query parameter 'after' has no value or a bad one"
		api_bad "$ep?after=%g1" "query parameter 'after' has no value or a bad one"
		want 200 $W "$ep?after=0&limit=1"
		want 200 $W "$ep?limit=1000&"
	done
	want 200 $W /v1/log?limit=2
	[ "$(jq '.entries | length' body)" -eq 2 ] || fail "limit=2: $(cat body)"
}

admin_params() {
	local aport
	serve_setup "$PKI"
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	serve
	aport=$(sed -n 's|.*operator page on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$SLOG" | head -1)
	[ -n "$aport" ] || fail "no admin port in $(cat "$SLOG")"
	want 200 $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml"
	for q in since=2026-13-01 until=garbage kind=nosuch party=1783 status=4o1 \
		'since=2026-11-02&until=2026-11-01' nosuch=1 'kind=upload&kind=ingest' \
		since=%ZZ id=%1b "id=$(printf 'a%.0s' $(seq 100))" kind=; do
		code=$(curl -sS -o body -w '%{http_code}' "http://127.0.0.1:$aport/api/log?$q")
		[ "$code" = 400 ] || fail "/api/log?$q: $code, expected 400: $(head -c 300 body)"
		jq -e '.error' body >/dev/null || fail "/api/log?$q: no JSON error: $(cat body)"
	done
	code=$(curl -sS -o body -w '%{http_code}' "http://127.0.0.1:$aport/api/log?since=2026-13-01")
	grep -qF "since '2026-13-01' is not a time" body || fail "the message: $(cat body)"
	code=$(curl -sS -o body -w '%{http_code}' \
		"http://127.0.0.1:$aport/api/log?kind=upload&party=$W&since=2000-01-01T00:00:00Z")
	[ "$code" = 200 ] || fail "a good search: $code $(cat body)"
	[ "$(jq '.entries | length' body)" -eq 1 ] || fail "one upload: $(cat body)"
}

t "log --since/--until: a bad time is a usage error naming the option and value" cli_log_dates
t "log --kind/--party/--recipient/--status/--source/--id: a bad value is a usage error" cli_log_values
t "log: good filters (dates, times, kinds) still select what they say" cli_log_good_filters
t "signals --rule, purge/match --as-of, deliveries retry ID: bad values exit 2" cli_other_commands
t "/v1/signals, /v1/log: after/limit digits only, unknown or repeated parameters: 400" api_params
t "/api/log (operator): bad since/until/kind/party/status or unknown parameter: 400" admin_params
