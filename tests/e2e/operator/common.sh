# shellcheck shell=bash disable=SC2034
# tests/e2e/operator/common.sh - what operator.sh and dashboard.sh share,
# sourced after lib.sh: an early-exit fail, one PKI per script run, the
# daemon (with its operator listener on a free port) and reference
# receivers that are stopped when a test's subshell exits, however it
# exits, and requests to both listeners.

. "$E2E/servers.sh"

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
V=00000001000000000983	# Gemeente Venlo, gemeenten 0983
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national

MISSING=
for tool in ${NEEDS:-curl openssl jq sqlite3}; do
	command -v "$tool" >/dev/null || MISSING="$MISSING $tool"
done

PKI=$TMP/pki
if [ -z "$MISSING" ]; then
	"$ROOT/certs/mkcerts.sh" "$PKI" $W:Westland $V:Venlo $N:NLA >/dev/null ||
		{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
fi

_serves=0
# serve: starts the daemon; SPID, SLOG (serve.N.log), PORT (API), APORT (operator)
serve() {
	_serves=$((_serves + 1))
	SLOG=$T/serve.$_serves.log
	launch "$SLOG" "$SCHAKEL" -D "$D" serve --port 0
	SPID=$LPID
	PORT=$LPORT
	APORT=$(sed -n 's|.*operator page on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$SLOG" | head -1)
	[ -n "$APORT" ] || fail "the daemon did not say where its operator page is: $(cat "$SLOG")"
}

_receivers=0
# receiver [--refuse S]: the reference receiver on $T/received.N; RPID, RPORT
receiver() {
	_receivers=$((_receivers + 1))
	launch "$T/receive.$_receivers.log" "$SCHAKEL" receive --dir "$T/received.$_receivers" \
		--port 0 --cert "$D/certs/server.crt" --key "$D/certs/server.key" \
		--ca "$D/certs/ca.crt" --broker-cert "$D/certs/server.crt" "$@"
	RPID=$LPID
	RPORT=$LPORT
}

# free_port: a port nothing listens on (a receiver's, stopped); FPORT
free_port() {
	launch "$T/probe.log" "$SCHAKEL" receive --dir "$T/probe" --port 0 \
		--cert "$D/certs/server.crt" --key "$D/certs/server.key" --ca "$D/certs/ca.crt" \
		--broker-cert "$D/certs/server.crt"
	FPORT=$LPORT
	stop "$LPID"
}

# --- the installation -----------------------------------------------------

# setup: a data directory with the PKI, GEEN_VERGUNNING for Westland, the
# operator listener on a free port and quick retries; $T is the test's
# directory (and the working directory).
setup() {
	T=${D%/data}
	cd "$T" || fail "no test directory"
	sk init >/dev/null || fail "init failed"
	cp -r "$PKI" "$D/certs"
	sed -i 's/^gemeenten =$/gemeenten = 1783/' "$D/schakel.conf"
	conf_set admin port 0
	conf_set delivery backoff_initial 1
	conf_set delivery backoff_max 2
}

conf_set() {	# conf_set SECTION KEY VALUE
	sed -i "/^\[$1\]/,/^\[/ s|^$2 =.*|$2 = $3|" "$D/schakel.conf"
	grep -qx "$2 = $3" "$D/schakel.conf" || fail "cannot set $2 in [$1]"
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

# parties [W-PUSH-URL [N-PUSH-URL]]: the three parties of the examples, each
# supplying what it may; Westland and the inspectorate pushed to when given.
parties() {
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all ${1:+push_url=$1}
	party $V "Gemeente Venlo" gemeenten=0983 supplies=brp receives=all
	party $N "Nederlandse Arbeidsinspectie" "supplies=inspectie, huisvesting" \
		"receives=OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING" ${2:+push_url=$2}
}

deliveries() {	# deliveries [STATE [OIN]]: how many
	db "SELECT count(*) FROM delivery WHERE 1 = 1 ${1:+AND state = '$1'} ${2:+AND oin = '$2'}"
}
# all_attempted OIN: every delivery to OIN was attempted at least once
all_attempted() {
	[ "$(deliveries '' "$1")" -gt 0 ] &&
		[ "$(db "SELECT count(*) FROM delivery WHERE oin = '$1' AND attempts = 0")" -eq 0 ]
}
all_delivered_to() {	# all_delivered_to OIN
	[ "$(deliveries '' "$1")" -gt 0 ] && [ "$(deliveries delivered "$1")" -eq "$(deliveries '' "$1")" ]
}

# --- requests (call and want are in lib.sh) -----------------------------------

upload() {	# upload WHO ADAPTER FILE: a 200 upload
	want 200 "$1" "/v1/uploads/$2" --data-binary "@$3"
}

# admin PATH [FILE]: GET PATH from the operator listener into FILE
# (default ./abody); prints the status.
admin() {
	curl -sS -o "${2:-abody}" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$APORT$1" 2>curl.err
}

# metric 'NAME{LABELS}' [FILE]: the value of that sample in a scrape (FILE,
# default ./metrics), or nothing when there is no such sample.
metric() {
	awk -v k="$1" '$1 == k { print $2 }' "${2:-metrics}"
}

scrape() {	# scrape: GET /metrics into ./metrics, or fail
	[ "$(admin /metrics metrics)" = 200 ] || fail "GET /metrics: $(head -c 300 metrics)"
	metrics_unnode metrics
}

json() {	# json FILTER [FILE]: fails unless jq finds FILTER true in FILE (body)
	jq -e "$1" "${2:-body}" >/dev/null || fail "not true: $1 in $(head -c 600 "${2:-body}")"
}

# signal_id RULE POSTCODE: the id of that signal, from the database.
signal_id() {
	db "SELECT s.id FROM signal s JOIN address a ON a.addr = s.addr
	    WHERE s.rule = '$1' AND a.postcode = '$2'"
}
