#!/bin/bash
# docs/openapi.yaml against the code: the document is valid OpenAPI 3.1
# (@apidevtools/swagger-parser), every exchange-log kind the code writes is
# in its LogEntry.kind, and real responses of a running `schakel serve`
# over mutual TLS (curl) — uploads, the inbox in JSON and XML, feedback,
# the log, refusals 400 to 415 — are valid against it (ajv, with every
# object closed: a field the document does not name fails).  The checker
# is tests/node/openapi-check.mjs; its npm packages are in tests/node
# (`make test-deps` runs `npm ci` there).
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034
NEEDS="curl openssl jq sqlite3 node"	# read by operator/common.sh
. "$E2E/operator/common.sh"

SPEC=$ROOT/docs/openapi.yaml
NODE_DIR=$ROOT/tests/node
if [ -z "$MISSING" ] && [ ! -d "$NODE_DIR/node_modules" ]; then
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$TMP/npm.log" 2>&1 ||
		MISSING="$MISSING npm-packages(tests/node: npm ci failed)"
fi
check() {	# check ARGS...: the checker's verdict on SPEC (and ARGS)
	node "$NODE_DIR/openapi-check.mjs" "$SPEC" "$@"
}

# rec METHOD TEMPLATE WHO PATH [CURL ARGS...]: one request, its response
# appended to ./responses.jsonl as the checker reads it.
rec() {
	local method=$1 template=$2 who=$3 path=$4 cert=() out
	shift 4
	case $who in
	-) ;;
	*) cert=(--cert "$D/certs/party-$who.crt" --key "$D/certs/party-$who.key") ;;
	esac
	out=$(curl -sS -o body -w '%{http_code}\t%{content_type}' --max-time 60 -X "$method" \
		--cacert "$D/certs/ca.crt" "${cert[@]}" "$@" "https://127.0.0.1:$PORT$path" 2>curl.err)
	[ "${out%%	*}" != 000 ] || fail "$method $path: no response: $(cat curl.err)"
	jq -cn --arg m "$method" --arg p "$template" --arg s "${out%%	*}" --arg t "${out#*	}" \
		--rawfile b body '{method: $m, path: $p, status: ($s | tonumber), type: $t, body: $b}' \
		>>responses.jsonl
	echo "${out%%	*}"
}

test_the_document_is_valid_openapi() {
	check >out || fail "$(cat out)"
}

test_the_checker_refuses_a_broken_document() {
	# Calibration: the license this document had (name only) is refused.
	sed '/^  license:/,/^servers:/ { /identifier:/d }' "$SPEC" >broken.yaml
	SPEC=$PWD/broken.yaml check >out && fail "a license without identifier or url passed"
	grep -q "license must have required property" out || fail "$(cat out)"
}

test_every_log_kind_the_code_writes_is_documented() {
	check --kinds >kinds || fail "$(cat kinds)"
	# exlog_append(store, "kind", ...) and the ingest's .log_kind = "kind"
	grep -ohE 'exlog_append(_text)?\([^,]+, "[a-z_]+"|\.log_kind = "[a-z_]+"' "$ROOT"/src/*.c |
		grep -oE '"[a-z_]+"$' | tr -d '"' | sort -u >written
	[ "$(wc -l <written)" -ge 10 ] || fail "found only $(wc -l <written) kinds in src/: $(xargs <written)"
	missing=$(grep -vxFf kinds written)
	[ -z "$missing" ] || fail "kinds written by src/ but not in LogEntry.kind: $missing"
	# docs/api.md's table of kinds (between its two markers) lists the same.
	sed -n '/^<!-- kinds:/,/^<!-- end of kinds/ s/^| `\([a-z_]*\)` |.*/\1/p' "$ROOT/docs/api.md" >api.md.kinds
	missing=$(grep -vxFf api.md.kinds written)
	[ -z "$missing" ] || fail "kinds written by src/ but not in docs/api.md's table: $missing"
	diff <(sort api.md.kinds) <(sort kinds) >d || fail "docs/api.md and LogEntry.kind differ: $(xargs <d)"
	note "LogEntry.kind: $(xargs <kinds)"
}

test_real_responses_are_valid_against_the_document() {
	setup
	receiver
	party $W "Gemeente Westland" gemeenten=1783 "supplies=brp, huisvesting" receives=all \
		receive_bsn=true "push_url=https://127.0.0.1:$RPORT/westland"
	party $V "Gemeente Venlo" gemeenten=0983 supplies=brp receives=all
	party $N "Nederlandse Arbeidsinspectie" "supplies=inspectie, huisvesting" \
		"receives=OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING"
	serve
	: >responses.jsonl
	up=/v1/uploads/{adapter}
	[ "$(rec POST $up $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml")" = 200 ] || fail "brp upload: $(cat body)"
	[ "$(rec POST $up $V /v1/uploads/brp --data-binary "@$FIX/brp-venlo-npsLa01.xml")" = 200 ] || fail "Venlo's upload"
	[ "$(rec POST $up $N /v1/uploads/huisvesting --data-binary "@$FIX/huisvesting.csv")" = 200 ] || fail "huisvesting upload"
	[ "$(rec POST $up $N /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json")" = 200 ] || fail "inspectie upload"
	[ "$(rec POST $up $V /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json")" = 403 ] || fail "no 403"
	[ "$(printf 'a;b\n1;2\n' | rec POST $up $W /v1/uploads/huisvesting --data-binary @-)" = 400 ] || fail "no 400"
	[ "$(rec POST $up $W /v1/uploads/brp -H 'Transfer-Encoding: chunked' --data-binary "@$FIX/brp-npsLa01.xml")" = 411 ] || fail "no 411"
	[ "$(rec GET $up $W /v1/uploads/brp)" = 405 ] || fail "no 405"
	until_ 20 all_delivered_to $W || fail "Westland's deliveries not delivered in 20 s"

	s=/v1/signals
	[ "$(rec GET $s $W "$s?limit=1000")" = 200 ] || fail "inbox"
	jq -e '[.signals[] | select(.bsn)] | length > 0' body >/dev/null || fail "no bsn in Westland's inbox: the check would not see it"
	[ "$(rec GET $s $N $s)" = 200 ] || fail "the inspectorate's inbox"
	[ "$(rec GET $s $W "$s?after=1000")" = 200 ] || fail "an empty page"
	[ "$(rec GET $s $W $s -H 'Accept: application/xml')" = 200 ] || fail "XML inbox"
	[ "$(rec GET $s $W "$s?limit=5000")" = 400 ] || fail "no 400"
	[ "$(rec GET $s - $s)" = 401 ] || fail "no 401"
	[ "$(rec DELETE $s $W $s)" = 405 ] || fail "no 405"

	f=/v1/signals/{id}/feedback
	id=$(signal_id OVERBEWONING 2671AB)
	json=(-H 'Content-Type: application/json')
	[ "$(rec POST $f $W "/v1/signals/$id/feedback" "${json[@]}" --data-binary '{"outcome":"bevestigd","note":"huisbezoek"}')" = 201 ] || fail "feedback: $(cat body)"
	[ "$(rec POST $f $W "/v1/signals/$id/feedback" "${json[@]}" --data-binary '{"outcome":"maybe"}')" = 400 ] || fail "no 400"
	[ "$(rec POST $f $V "/v1/signals/$id/feedback" "${json[@]}" --data-binary '{"outcome":"onterecht"}')" = 404 ] || fail "no 404"
	[ "$(rec POST $f $W "/v1/signals/$id/feedback" -H 'Content-Type: text/plain' --data-binary '{"outcome":"onterecht"}')" = 415 ] || fail "no 415"
	big=$(head -c 20000 /dev/zero | tr '\0' x)
	[ "$(rec POST $f $W "/v1/signals/$id/feedback" "${json[@]}" --data-binary "$big")" = 413 ] || fail "no 413"

	[ "$(rec GET / $N /)" = 200 ] || fail "the analyst's page"
	[ "$(rec GET / - /)" = 401 ] || fail "no 401 for the page"
	[ "$(rec POST / $N / -H 'Content-Type: application/json' --data-binary '{}')" = 405 ] || fail "no 405 for the page"

	l=/v1/log
	for who in $W $V $N; do
		[ "$(rec GET $l $who "$l?limit=1000")" = 200 ] || fail "the log of $who"
	done
	[ "$(rec GET $l $W "$l?after=x")" = 400 ] || fail "no 400"

	# Westland's log shows the kinds a party sees; all of them were checked.
	kinds=$(jq -r 'select(.path == "/v1/log" and .status == 200) | .body | fromjson | .entries[].kind' responses.jsonl | sort -u | xargs)
	for k in upload reject signal delivery feedback refusal; do
		[[ " $kinds " == *" $k "* ]] || fail "no $k entry among the log responses checked (got: $kinds)"
	done
	check responses.jsonl >out || fail "$(head -20 out)"
	note "$(tail -1 out | sed 's/^# //'); log kinds seen: $kinds"
}

test_the_checker_sees_an_undocumented_field_and_kind() {
	# Calibration: responses that differ from the document are caught.
	cat >bad.jsonl <<'JSONL'
{"method":"GET","path":"/v1/log","status":200,"type":"application/json","body":"{\"entries\":[{\"seq\":1,\"at\":\"x\",\"kind\":\"nonsense\",\"party\":null,\"subject\":null,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}],\"next\":1}"}
{"method":"POST","path":"/v1/signals/{id}/feedback","status":201,"type":"application/json","body":"{\"feedback\":1,\"signal\":\"x\",\"outcome\":\"bevestigd\",\"extra\":1}"}
{"method":"GET","path":"/v1/signals","status":418,"type":"application/json","body":"{}"}
JSONL
	check bad.jsonl >out && fail "bad responses passed"
	grep -q 'kind must be equal to one of the allowed values' out || fail "the unknown kind passed: $(cat out)"
	grep -q 'unevaluated properties (extra)' out || fail "the extra field passed: $(cat out)"
	grep -q 'status 418 is not documented' out || fail "the undocumented status passed: $(cat out)"
}

tt "docs/openapi.yaml is valid OpenAPI 3.1 (swagger-parser)" test_the_document_is_valid_openapi
tt "calibration: a license without identifier is refused" test_the_checker_refuses_a_broken_document
tt "every log kind src/ writes is in LogEntry.kind and docs/api.md" test_every_log_kind_the_code_writes_is_documented
tt "real responses (uploads, inbox JSON/XML, feedback, log, 400-415) are valid against docs/openapi.yaml" test_real_responses_are_valid_against_the_document
tt "calibration: an unknown kind, an undocumented field and status are caught" test_the_checker_sees_an_undocumented_field_and_kind
