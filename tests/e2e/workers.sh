#!/bin/bash
# The daemon's worker threads (issue 14 parts 3 and 4): the heavy work (an
# upload's store stage, the match after it) runs on a worker, never on the
# event loop, so /healthz, the inbox and the log answer while an upload is
# being stored; with the work queue full an upload is refused 503 with
# Retry-After and nothing of it is stored; /metrics and the dashboard show
# the queue.  Real curl over mutual TLS; the upload is held on its worker
# by another process holding the database's write lock (sqlite3), so every
# assertion is about order (this answered while that had not), never time.
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

MISSING=
for tool in curl openssl sqlite3 jq; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
if [ -n "$MISSING" ]; then
	echo "1..0 # SKIP missing:$MISSING"
	exit 0
fi
PKI=$TMP/pki
make_pki "$PKI" $W:Westland $N:NLA

metric() {	# metric NAME: its value in a fresh scrape of /metrics
	[ "$(admin /metrics metrics)" = 200 ] || fail "GET /metrics: $(head -c 300 metrics)"
	metrics_unnode metrics
	awk -v k="$1" '$1 == k { print $2 }' metrics
}
queue_is() {	# queue_is RUNNING WAITING: the pool runs and holds that many jobs
	[ "$(metric schakel_work_running)" = "$1" ] && [ "$(metric schakel_work_queue_length)" = "$2" ]
}

# upload_bg NAME FILE: POSTs FILE as Westland's brp upload in the background,
# in directory NAME (its body in NAME/body, its status in NAME/status once
# it has an answer); sets UPID.
upload_bg() {
	mkdir -p "$1"
	(cd "$1" && call $W /v1/uploads/brp --data-binary "@$2" >status.part && mv status.part status) &
	UPID=$!
}

# A daemon with one party (Westland: brp, inbox), a long busy timeout (the
# worker waits for the lock the test holds) and the given [server] keys.
workers_setup() {
	serve_setup "$PKI"
	section_set store busy_timeout_ms 120000
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	local kv
	for kv in "$@"; do
		section_set server "${kv%%=*}" "${kv#*=}"
	done
}

test_reads_answer_while_an_upload_is_stored() {
	workers_setup
	ingest_examples || fail "ingest failed"
	sk match --as-of "$(date +%F)" >/dev/null || fail "match failed"
	"$ROOT/tests/tools/gen-brp.sh" 20000 7 >big.xml	# 7 MB, 20,000 new persons
	serve
	aport
	matches=$(db "SELECT count(*) FROM exlog WHERE kind = 'match'")
	hold_write_lock
	upload_bg up "$T/big.xml"
	# The whole body is in (spooled); the upload waits for the lock.
	until_ 60 spooled "$(stat -c %s big.xml)" || fail "the upload was not spooled"
	[ "$(admin /healthz)" = 200 ] || fail "/healthz during the upload: $(cat abody)"
	[ ! -e up/status ] || fail "the upload was answered before /healthz: $(cat up/status)"
	last=$(db "SELECT max(seq) FROM signal")
	want 200 $W "/v1/signals?after=$last"	# nothing new: nothing to disclose
	grep -q '"signals":\[\]' body || fail "not an empty page: $(head -c 300 body)"
	[ ! -e up/status ] || fail "the upload was answered before the inbox read"
	want 200 $W "/v1/log?limit=5"
	[ ! -e up/status ] || fail "the upload was answered before the log read"
	# A page with signals is served once its disclosures are logged (fail
	# closed): it waits for the upload's write, the loop does not.
	mkdir page
	(cd page && call $W "/v1/signals?limit=5" >status.part && mv status.part status) &
	P=$!
	until_ 60 queue_is 1 1 || fail "the page's disclosures are not waiting for a worker"
	[ "$(admin /healthz)" = 200 ] || fail "/healthz while the page waits: $(cat abody)"
	[ ! -e page/status ] || fail "the page was served before its disclosures were logged"
	[ "$(admin /)" = 200 ] || fail "no dashboard during the upload"
	grep -q 'work queue (workers)</th><td class="ok">1 waiting (at most 128), 1 running' abody ||
		fail "the dashboard does not show the running job: $(grep -o 'work queue (workers).\{0,120\}' abody)"
	kill -0 "$UPID" 2>/dev/null || fail "the upload's client is gone"
	note "while the upload waited on its worker: /healthz, the inbox, the log and the dashboard answered"
	disclosed=$(db "SELECT count(*) FROM exlog WHERE kind = 'disclosure'")
	release_write_lock
	wait "$UPID" "$P"
	[ "$(cat up/status)" = 200 ] || fail "the upload: $(cat up/status) $(head -c 300 up/body)"
	[ "$(cat page/status)" = 200 ] || fail "the page: $(cat page/status) $(head -c 300 page/body)"
	n=$(jq '.signals | length' page/body)
	[ "$n" -gt 0 ] || fail "no signals on the page"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'disclosure'")" -eq $((disclosed + n)) ] ||
		fail "not $n disclosures logged for the page"
	grep -q '"changed": *20000' up/body || grep -q '"changed":20000' up/body ||
		fail "not 20000 changed: $(head -c 300 up/body)"
	# Its match runs on a worker after the reply; the loop goes on meanwhile.
	until_ 60 sql_gt "$matches" "SELECT count(*) FROM exlog WHERE kind = 'match'" ||
		fail "no match after the upload"
	until_ 60 queue_is 0 0 || fail "the pool did not come to rest"
	[ "$(admin /healthz)" = 200 ] || fail "/healthz after: $(cat abody)"
	grep -q 'subsys=match' "$SLOG" || fail "the match is not in the daemon's log"
	sk log verify >/dev/null || fail "log verify fails"
}

spooled() {	# spooled BYTES: an upload of BYTES is all in DIR/spool
	[ "$(stat -c %s "$D"/spool/upload-* 2>/dev/null | head -1)" = "$1" ]
}

sql_gt() {	# sql_gt N SQL: SQL's number is above N (for until_)
	[ "$(db "$2")" -gt "$1" ]
}

test_a_full_queue_refuses_503_nothing_stored() {
	workers_setup workers=1 work_queue=1 retry_after=7
	serve
	aport
	[ "$(metric schakel_work_queue_max)" = 1 ] || fail "work_queue not 1: $(grep schakel_work_ metrics)"
	[ "$(metric schakel_work_workers)" = 1 ] || fail "not 1 worker"
	"$ROOT/tests/tools/gen-brp.sh" 20 1 >a.xml
	"$ROOT/tests/tools/gen-brp.sh" 20 2 >b.xml
	"$ROOT/tests/tools/gen-brp.sh" 20 3 >c.xml
	refused=$(sha256sum c.xml | cut -d' ' -f1)
	hold_write_lock
	upload_bg a "$T/a.xml"
	A=$UPID
	until_ 60 queue_is 1 0 || fail "upload a did not reach the worker"
	upload_bg b "$T/b.xml"
	B=$UPID
	until_ 60 queue_is 1 1 || fail "upload b is not waiting: $(grep schakel_work_ metrics)"
	# The queue is full: the third upload is refused at once.
	got=$(call $W /v1/uploads/brp --data-binary @c.xml -D headers)
	[ "$got" = 503 ] || fail "status $got: $(head -c 300 body)"
	grep -qi '^Retry-After: 7' headers || fail "no Retry-After: 7: $(cat headers)"
	grep -q 'nothing was stored' body || fail "the body does not say so: $(cat body)"
	[ "$(metric schakel_work_refused_total)" = 1 ] || fail "refused_total not 1"
	[ "$(metric schakel_work_queue_length)" = 1 ] || fail "queue length not 1"
	awk '$1 == "schakel_work_oldest_seconds" { exit !($2 > 0) }' metrics ||
		fail "no age of the oldest job: $(grep oldest metrics)"
	[ "$(admin /)" = 200 ] || fail "no dashboard"
	grep -q 'work queue (workers)</th><td class="warn">1 waiting (at most 1), 1 running' abody ||
		fail "the dashboard does not show the full queue: $(grep -o 'work queue (workers).\{0,160\}' abody)"
	grep -q 'refused: work queue full' "$SLOG" || fail "the refusal is not in the daemon's log"
	note "full queue: $(grep -i '^Retry-After' headers | tr -d '\r'), $(head -c 120 body)"
	[ ! -e a/status ] && [ ! -e b/status ] || fail "a or b answered while the lock was held"
	release_write_lock
	wait "$A" "$B"
	[ "$(cat a/status)" = 200 ] || fail "upload a: $(cat a/status) $(head -c 200 a/body)"
	[ "$(cat b/status)" = 200 ] || fail "upload b: $(cat b/status) $(head -c 200 b/body)"
	[ "$(db 'SELECT count(*) FROM person')" -eq 40 ] || fail "not the 40 persons of a and b"
	[ "$(db "SELECT count(*) FROM exlog WHERE detail LIKE '%$refused%'")" -eq 0 ] ||
		fail "the refused upload left a log entry"
	[ "$(db 'SELECT count(*) FROM ingest')" -eq 2 ] || fail "not 2 ingests"
	until_ 60 queue_is 0 0 || fail "the pool did not come to rest"
	[ -z "$(ls -A "$D/spool")" ] || fail "spool file left: $(ls "$D/spool")"
	# With room again the same file goes in.
	want 200 $W /v1/uploads/brp --data-binary @c.xml
	[ "$(db 'SELECT count(*) FROM person')" -eq 60 ] || fail "c not stored after the queue emptied"
	sk log verify >/dev/null || fail "log verify fails"
}

# A feedback and a refusal while an upload holds the worker's write: the
# loop answers the refusal at once and hands both writes to the workers
# (they used to wait on the loop for the lock); both are stored after it.
test_writes_of_the_loop_wait_on_a_worker_not_on_the_loop() {
	workers_setup
	ingest_examples || fail "ingest failed"
	sk match --as-of "$(date +%F)" >/dev/null || fail "match failed"
	id=$(db "SELECT s.id FROM signal s JOIN signal_recipient r ON r.signal_seq = s.seq
	         WHERE r.oin = '$W' LIMIT 1")
	[ -n "$id" ] || fail "no signal for Westland"
	"$ROOT/tests/tools/gen-brp.sh" 20 5 >a.xml
	serve
	aport
	refusals=$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal'")
	hold_write_lock
	upload_bg up "$T/a.xml"
	until_ 60 queue_is 1 0 || fail "the upload did not reach the worker"
	mkdir fb
	(cd fb && call $W "/v1/signals/$id/feedback" -H "Content-Type: application/json" \
		--data-binary '{"outcome":"bevestigd","note":"x"}' >status.part && mv status.part status) &
	F=$!
	until_ 60 queue_is 1 1 || fail "the feedback is not waiting for a worker"
	want 405 $W /v1/signals -X DELETE	# refused, and logged later
	[ "$(admin /healthz)" = 200 ] || fail "/healthz: $(cat abody)"
	[ ! -e fb/status ] && [ ! -e up/status ] || fail "feedback or upload answered under the lock"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'refusal'")" -eq "$refusals" ] ||
		fail "the refusal was written under the lock"
	release_write_lock
	wait "$F" "$UPID"
	[ "$(cat fb/status)" = 201 ] || fail "feedback: $(cat fb/status) $(cat fb/body)"
	[ "$(cat up/status)" = 200 ] || fail "upload: $(cat up/status)"
	[ "$(db "SELECT count(*) FROM feedback WHERE signal_id = '$id'")" -eq 1 ] || fail "no feedback row"
	until_ 30 sql_gt "$refusals" "SELECT count(*) FROM exlog WHERE kind = 'refusal' AND party = '$W'" ||
		fail "the refusal was not logged after the lock"
	[ "$(metric schakel_refusals_unlogged_total)" = 0 ] || fail "refusals unlogged"
	sk log verify >/dev/null || fail "log verify fails"
}

# A client that gives up while its upload waits for a worker: the upload is
# still stored (its reply has nowhere to go), the daemon goes on.
test_a_client_gone_while_its_upload_waits() {
	workers_setup workers=1
	serve
	aport
	"$ROOT/tests/tools/gen-brp.sh" 20 4 >a.xml
	hold_write_lock
	mkdir gone
	(cd gone && curl -sS -o body --max-time 60 --cacert "$D/certs/ca.crt" \
		--cert "$D/certs/party-$W.crt" --key "$D/certs/party-$W.key" \
		--data-binary "@$T/a.xml" "https://127.0.0.1:$PORT/v1/uploads/brp" 2>/dev/null) &
	C=$!
	until_ 60 queue_is 1 0 || fail "the upload did not reach the worker"
	kill "$C"
	wait "$C" 2>/dev/null
	release_write_lock
	until_ 60 queue_is 0 0 || fail "the pool did not come to rest"
	until_ 30 [ "$(db 'SELECT count(*) FROM person')" -eq 20 ] || fail "the upload was not stored"
	kill -0 "$SPID" || fail "the daemon died"
	want 200 $W /v1/signals
	[ -z "$(ls -A "$D/spool")" ] || fail "spool file left"
}

t "/healthz, the inbox, the log and the dashboard answer while an upload waits on its worker (before the upload's reply); then its match runs" test_reads_answer_while_an_upload_is_stored
t "a full work queue: the upload is refused 503 with Retry-After, nothing of it stored; /metrics and the dashboard show the queue" test_a_full_queue_refuses_503_nothing_stored
t "a feedback and a refusal while a worker writes: the loop answers and goes on, both are written after it" test_writes_of_the_loop_wait_on_a_worker_not_on_the_loop
t "a client gone while its upload waits for a worker: the upload is stored, the daemon goes on" test_a_client_gone_while_its_upload_waits
