#!/bin/bash
# Faults: the disk full (a 2 MB tmpfs; needs root and mount), the database
# locked by another process, the signing key unreadable, the network
# dropping mid-transfer (a receiver killed while a delivery is in flight, a
# source killed half-way through a page).  Each operation must fail with a
# clear error, leave nothing half-written, and the daemon must keep serving
# what it can.  And while a fault lasts under the daemon (the disk full, the
# write lock held past the busy timeout, a recipient down, a SIGTERM with
# deliveries in flight) it must say so, hold what it cannot record instead
# of sending it again, log an outage once, and deliver everything once when
# the fault ends.
#
#   FAULTS_TESTS=REGEX tests/e2e/faults.sh   only the matching test functions
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

MISSING=
for tool in curl openssl sqlite3; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
PKI=$TMP/pki
[ -z "$MISSING" ] && make_pki "$PKI" $W:Westland $N:NLA

# Whether a tmpfs can be mounted here (root, no container seccomp in the way).
CAN_MOUNT=
probe=$TMP/probe-mnt
mkdir -p "$probe"
if mount -t tmpfs -o size=64k tmpfs "$probe" 2>/dev/null; then
	umount "$probe" && CAN_MOUNT=1
fi
ts() {	# ts NAME FUNCTION: tt, or a skip when mount is not permitted
	if [ -z "$CAN_MOUNT" ] && [[ $2 =~ ${FAULTS_TESTS:-.} ]]; then
		_n=$((_n + 1))
		echo "ok $_n - $1 # SKIP mount -t tmpfs is not permitted"
		return
	fi
	tt "$@"
}

# small_fs: $D on a fresh 2 MB tmpfs, unmounted when the test ends.
MNT=
small_fs() {
	sqlite_only "fills the data directory's file system, where PostgreSQL's database is not"
	MNT=${D%/data}/mnt
	mkdir -p "$MNT"
	mount -t tmpfs -o size=2m,mode=0700 tmpfs "$MNT" || fail "cannot mount a tmpfs"
	ON_EXIT_EXTRA='umount "$MNT" 2>/dev/null || umount -l "$MNT"'
	trap on_exit EXIT
	D=$MNT/data
}

# fill_disk: fills the tmpfs up (a file named filler)
fill_disk() {
	dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
	[ "$(df --output=avail "$MNT" | tail -1)" -eq 0 ] || fail "the disk is not full: $(df "$MNT")"
}

sql_ge() {	# sql_ge N SQL: the query's number is at least N (for until_)
	[ "$(db "$2")" -ge "$1" ]
}

counts() {	# persons dwellings findings ingests
	db "SELECT (SELECT count(*) FROM person) || ' ' || (SELECT count(*) FROM dwelling) || ' ' ||
	           (SELECT count(*) FROM finding) || ' ' || (SELECT count(*) FROM ingest)"
}

# --- (a) the disk full ----------------------------------------------------------

test_disk_full_ingest_fails_cleanly() {
	T=${D%/data}
	cd "$T" || fail "no test directory"
	small_fs
	sk init >/dev/null || fail "init failed"
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "the first ingest failed"
	before=$(counts)
	entries=$(db "SELECT count(*) FROM exlog")
	"$ROOT/tests/tools/gen-brp.sh" 20000 >big.xml	# 7 MB: does not fit in 2 MB
	expect_rc 1 timeout 60 "$SCHAKEL" -D "$D" ingest brp big.xml >out || fail "$(tail -3 out)"
	grep -Eq "database or disk is full|No space left on device|disk is full" out ||
		fail "no clear disk-full message: $(cat out)"
	note "disk full: $(grep -E 'full|space' out | head -1)"
	[ "$(counts)" = "$before" ] || fail "counts changed: $before -> $(counts)"
	[ "$(db "SELECT count(*) FROM exlog")" -eq "$entries" ] || fail "log entries changed"
	sk log verify >out || fail "log verify fails: $(cat out)"
	db "PRAGMA integrity_check" | grep -qx ok || fail "integrity_check fails"
	# With room again the same file goes in whole.
	mount -o remount,size=64m "$MNT" || fail "cannot grow the tmpfs"
	expect_rc 0 timeout 60 "$SCHAKEL" -D "$D" ingest brp big.xml >/dev/null || fail "the ingest fails with room enough"
	[ "$(db 'SELECT count(*) FROM person')" -eq 20000 ] || fail "not all persons stored"
}

test_disk_full_upload_500_and_daemon_keeps_serving() {
	T=${D%/data}
	top=$T
	cd "$T" || fail "no test directory"
	small_fs
	serve_setup "$PKI"
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	party $N "NLA" supplies=inspectie,huisvesting receives=all
	serve
	want 200 $N /v1/uploads/huisvesting --data-binary "@$FIX/huisvesting.csv"
	before=$(counts)
	fill_disk
	cd "$top" || fail "no test directory"	# the client's files, off the full disk
	got=$(call $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml")
	[ "$got" = 500 ] || fail "upload on a full disk: $got, expected 500: $(cat body)"
	jq -e '.status == 500 and (.error | type == "string")' body >/dev/null ||
		fail "not a JSON error: $(cat body)"
	grep -Eq "No space left on device|database or disk is full|disk is full" body ||
		fail "the error does not say the disk is full: $(cat body)"
	note "upload on a full disk: 500 $(cat body)"
	[ "$(counts)" = "$before" ] || fail "counts changed: $before -> $(counts)"
	[ -z "$(ls -A "$D/spool")" ] || fail "spool file left: $(ls "$D/spool")"
	kill -0 "$SPID" || fail "the daemon died"
	want 200 $W /v1/signals
	want 200 $N /v1/signals
	jq -e '.signals | type == "array"' body >/dev/null || fail "no inbox: $(cat body)"
	# Room again: the same upload goes in.
	rm -f "$MNT/filler"
	want 200 $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml"
	jq -e '.accepted == 8' body >/dev/null || fail "after the disk emptied: $(cat body)"
	sk log verify >/dev/null || fail "log verify fails"
}

# --- (b) the database locked ------------------------------------------------------

test_database_locked_ingest_fails_nothing_written() {
	sk init >/dev/null || fail "init failed"
	section_set store busy_timeout_ms 200
	sk ingest huisvesting "$FIX/huisvesting.csv" >/dev/null || fail "the first ingest failed"
	before=$(counts)
	entries=$(db "SELECT count(*) FROM exlog")
	# Another process holds the write lock for 3 s (> 200 ms).
	hold_write_lock || return 1
	t0=$(date +%s%N)
	expect_rc 1 timeout 30 "$SCHAKEL" -D "$D" ingest brp "$FIX/brp-npsLa01.xml" >out || fail "$(tail -3 out)"
	ms=$((($(date +%s%N) - t0) / 1000000))
	contains out "database is locked"
	note "locked: '$(grep -m1 locked out)' after $ms ms (busy_timeout_ms 200)"
	echo "COMMIT;" >&7
	exec 7>&-
	wait $lpid
	[ "$(counts)" = "$before" ] || fail "counts changed: $before -> $(counts)"
	[ "$(db "SELECT count(*) FROM exlog")" -eq "$entries" ] || fail "log entries changed"
	sk log verify >/dev/null || fail "log verify fails"
	# The lock gone, the same file goes in.
	expect_rc 3 sk ingest brp "$FIX/brp-npsLa01.xml" >/dev/null || fail "ingest after the lock"
	[ "$(db 'SELECT count(*) FROM person')" -eq 8 ] || fail "not 8 persons"
}

test_database_locked_upload_500_daemon_goes_on() {
	serve_setup "$PKI"
	section_set store busy_timeout_ms 200
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	serve
	hold_write_lock || return 1
	got=$(call $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml")
	note "upload with the database locked: $got $(cat body)"
	[ "$got" = 500 ] || [ "$got" = 503 ] || fail "status $got: $(cat body)"
	grep -q "database is locked" body || fail "the error does not say the database is locked"
	want 200 $W /v1/signals	# reading goes on while another holds the write lock (WAL)
	echo "COMMIT;" >&7
	exec 7>&-
	wait $lpid
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "persons were stored"
	[ -z "$(ls -A "$D/spool")" ] || fail "spool file left: $(ls "$D/spool")"
	want 200 $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml"
	sk log verify >/dev/null || fail "log verify fails"
}

# --- (c) the signing key unreadable --------------------------------------------------

# The broker's private key ([server] private_key) is both its TLS key and
# its signing key; serve loads it at start.
key_refused() {	# key_refused WHAT: serve must not start, naming the key
	expect_rc 1 timeout 20 "$SCHAKEL" -D "$D" serve --port 0 >out || fail "$(tail -3 out)"
	contains out "cannot use the private key $D/certs/server.key"
	! grep -q "listening on" out || fail "it listened"
	note "key $1: $(grep -m1 'private key' out)"
}

test_signing_key_unreadable_serve_refuses_to_start() {
	serve_setup "$PKI"
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	sk ingest brp "$FIX/brp-npsLa01.xml" >/dev/null
	before=$(counts)
	entries=$(db "SELECT count(*) FROM exlog")
	mv "$D/certs/server.key" key.good
	mkdir "$D/certs/server.key"
	key_refused "a directory"
	rmdir "$D/certs/server.key"
	head -c 400 /dev/urandom >"$D/certs/server.key"
	key_refused "garbage"
	: >"$D/certs/server.key"
	key_refused "empty"
	rm "$D/certs/server.key"
	key_refused "missing"
	[ "$(counts)" = "$before" ] || fail "counts changed"
	[ "$(db "SELECT count(*) FROM exlog")" -eq "$entries" ] || fail "log entries changed"
	sk log verify >/dev/null || fail "log verify fails"
	mv key.good "$D/certs/server.key"
	serve
	want 200 $W /v1/signals
}

# With the daemon running, the key file is spoilt and SIGHUP asks to reload
# the TLS files: the reload is refused and the API keeps its key; deliveries
# made meanwhile fail (the client reads the key file per connection) and
# stay pending with the error; with the key back they are delivered.
test_signing_key_spoilt_while_running_reload_refused() {
	serve_setup "$PKI"
	R=$T/received
	launch "$T/receive.log" "$SCHAKEL" receive --dir "$R" --port 0 --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt" --broker-cert "$D/certs/server.crt"
	party $W "Gemeente Westland" gemeenten=1783 receives=all supplies=brp \
		"push_url=https://127.0.0.1:$LPORT/westland"
	section_set delivery backoff_initial 1
	serve
	cp "$D/certs/server.key" key.good
	head -c 400 /dev/urandom >"$D/certs/server.key"
	kill -HUP "$SPID"
	until_ 5 grep -q "reload" "$SLOG" || fail "no reload message"
	note "SIGHUP with a spoilt key: $(grep -m1 reload "$SLOG" | sed 's/^time=[^ ]* //')"
	kill -0 "$SPID" || fail "the daemon died"
	want 200 $W /v1/signals
	want 200 $W /v1/uploads/brp --data-binary "@$FIX/brp-npsLa01.xml"	# the server keeps its key
	# Signals queued now: the signer holds the key loaded at start, but the
	# client side (libcurl) reads the key file for each connection, so each
	# attempt fails, clearly, and the deliveries stay pending.
	ingest_examples || fail "ingest failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	n=$(db "SELECT count(*) FROM delivery")
	[ "$n" -gt 0 ] || fail "no deliveries queued"
	until_ 15 sql_ge "$n" "SELECT count(*) FROM delivery WHERE attempts > 0" ||
		fail "no attempts: $(db "SELECT state, attempts, last_error FROM delivery")"
	[ "$(db "SELECT count(*) FROM delivery WHERE state = 'pending' AND last_error LIKE '%private key%'")" -eq "$n" ] ||
		fail "not all pending with a key error: $(db "SELECT state, last_error FROM delivery")"
	grep -q 'subsys=deliver msg=retry .*private key' "$SLOG" || fail "the key error is not in the daemon's log"
	note "deliveries with the key spoilt: $n pending, error '$(db "SELECT last_error FROM delivery LIMIT 1" | sed "s|$D|DIR|")'"
	[ "$(find "$T/received" -name '*.xml' | wc -l)" -eq 0 ] || fail "something was delivered"
	# The key back: all delivered, nothing lost.
	cp key.good "$D/certs/server.key"
	until_ 20 sql_ge "$n" "SELECT count(*) FROM delivery WHERE state = 'delivered'" ||
		fail "not delivered after the key came back: $(db "SELECT state, last_error FROM delivery")"
	[ "$(find "$T/received" -name '*.xml' | wc -l)" -eq "$n" ] || fail "the receiver has not $n files"
	mv key.good "$D/certs/server.key"
}

# --- (d) the network drops mid-transfer ------------------------------------------------

# hang_server PORT LOG: a TLS server on PORT that takes a request and never
# answers (openssl s_server); HPID
hang_server() {
	group "sleep 600 | openssl s_server -quiet -accept $1 -cert '$D/certs/server.crt' \
		-key '$D/certs/server.key' -CAfile '$D/certs/ca.crt' -Verify 1 >'$2' 2>'$2.err'"
	HPID=$GPID
}

test_receiver_killed_mid_delivery_stays_pending_then_delivered() {
	serve_setup "$PKI"
	R=$T/received
	# a free port: a receiver's, stopped
	launch "$T/probe.log" "$SCHAKEL" receive --dir "$T/probe" --port 0 \
		--cert "$D/certs/server.crt" --key "$D/certs/server.key" --ca "$D/certs/ca.crt" \
		--broker-cert "$D/certs/server.crt"
	FPORT=$LPORT
	stop "$LPID"
	party $W "Gemeente Westland" gemeenten=1783 receives=all "push_url=https://127.0.0.1:$FPORT/westland"
	section_set delivery backoff_initial 1
	section_set delivery backoff_max 2
	section_set delivery max_in_flight 1
	ingest_examples || fail "ingest failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	n=$(db "SELECT count(*) FROM delivery")
	[ "$n" -gt 0 ] || fail "no deliveries queued"
	hang_server "$FPORT" hang.out
	sleep 0.5
	serve
	until_ 15 grep -q "^POST /westland" hang.out || fail "no delivery reached the receiver: $(cat hang.out hang.out.err)"
	kill -KILL -- -"$HPID"	# the receiver dies with the request in flight
	until_ 15 sql_ge 1 "SELECT count(*) FROM delivery WHERE attempts > 0 AND last_error IS NOT NULL" ||
		fail "the dropped attempt is not recorded"
	err=$(db "SELECT last_error FROM delivery WHERE last_error IS NOT NULL LIMIT 1")
	note "dropped mid-delivery: last_error '$err'"
	[ "$(db "SELECT count(*) FROM delivery WHERE state = 'pending'")" -eq "$n" ] ||
		fail "not all $n deliveries pending: $(db "SELECT state, count(*) FROM delivery GROUP BY state")"
	[ "$(db "SELECT count(*) FROM delivery WHERE state = 'failed'")" -eq 0 ] || fail "a delivery failed"
	# The receiver comes back on the same port: all delivered, once each.
	launch "$T/receive.log" "$SCHAKEL" receive --dir "$R" --port "$FPORT" --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt" --broker-cert "$D/certs/server.crt"
	until_ 30 sql_ge "$n" "SELECT count(*) FROM delivery WHERE state = 'delivered'" ||
		fail "not delivered after the receiver came back: $(db "SELECT state, count(*) FROM delivery GROUP BY state")"
	[ "$(find "$R" -maxdepth 1 -name '*.xml' | wc -l)" -eq "$n" ] || fail "the receiver has not $n files"
	kill -0 "$SPID" || fail "the daemon died"
	sk log verify >/dev/null || fail "log verify fails"
}

test_source_killed_mid_page_pull_fails_stores_nothing() {
	serve_setup "$PKI"
	# a free port: a receiver's, stopped
	launch "$T/probe.log" "$SCHAKEL" receive --dir "$T/probe" --port 0 \
		--cert "$D/certs/server.crt" --key "$D/certs/server.key" --ca "$D/certs/ca.crt" \
		--broker-cert "$D/certs/server.crt"
	FPORT=$LPORT
	stop "$LPID"
	printf '\n[source.inspectie]\nadapter = inspectie\nurl = https://127.0.0.1:%s/feed\ninterval = 3600\ntimeout = 20\n' \
		"$FPORT" >>"$D/schakel.conf"
	# Headers for 100,000 bytes, the first 1,200 bytes of the page (its first
	# finding whole), then the source dies.
	head -c 1200 "$FIX/inspectie.json" >part
	group "{ sleep 1; printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n';
		cat part; sleep 600; } | openssl s_server -quiet -accept $FPORT -cert '$D/certs/server.crt' \
		-key '$D/certs/server.key' -CAfile '$D/certs/ca.crt' -Verify 1 >src.out 2>src.err"
	HPID=$GPID
	sleep 0.3
	sk pull >pull.out 2>&1 &
	ppid=$!
	until_ 15 grep -q "^GET /feed" src.out || fail "the pull did not reach the source: $(cat src.err pull.out)"
	until_ 10 test -n "$(ls -A "$D/spool" 2>/dev/null)" || true
	sleep 1.5	# the partial page has arrived
	spooled=$(ls -A "$D/spool" | xargs)
	kill -KILL -- -"$HPID"
	wait "$ppid"
	rc=$?
	cat pull.out
	note "source killed mid-page (spool during the transfer: ${spooled:-none}): pull exit $rc, '$(head -1 pull.out)'"
	[ "$rc" -ne 0 ] || fail "the pull succeeded"
	[ "$rc" -lt 128 ] || fail "the pull crashed ($rc)"
	[ -s pull.out ] || fail "no message"
	[ "$(db 'SELECT count(*) FROM finding')" -eq 0 ] || fail "a half page was stored"
	[ "$(logcount '.detail.outcome == "failed"' --kind pull)" -eq 1 ] ||
		fail "no failed pull entry: $(db "SELECT detail FROM exlog WHERE kind = 'pull'")"
	[ -z "$(db "SELECT coalesce(cursor, '') FROM source_state WHERE name = 'inspectie'")" ] || fail "the cursor moved"
	[ -z "$(ls -A "$D/spool")" ] || fail "spool file left: $(ls "$D/spool")"
	sk log verify >/dev/null || fail "log verify fails"
}

# --- (e) the daemon riding out a fault ---------------------------------------------
#
# While a fault lasts the daemon must say so (/healthz), hold what it cannot
# write down instead of sending it again, and not flood the exchange log;
# when the fault ends every message is delivered once.

_rcvs=0
# rcv [ARGS...]: the reference receiver, storing in $T/received (not in the
# data directory); RPID, RPORT.  Its log is $T/receive.N.log.
rcv() {
	_rcvs=$((_rcvs + 1))
	launch "$T/receive.$_rcvs.log" "$SCHAKEL" receive --dir "$T/received" --port 0 \
		--cert "$D/certs/server.crt" --key "$D/certs/server.key" --ca "$D/certs/ca.crt" --broker-cert "$D/certs/server.crt" "$@"
	RPID=$LPID
	RPORT=$LPORT
}
# received stored|duplicate|refused: requests the receivers answered so
received() {
	local p
	case $1 in
	stored) p='verified and stored' ;;
	duplicate) p='duplicate, dropped' ;;
	refused) p='receive: refused POST' ;;
	esac
	cat "$T"/receive.*.log 2>/dev/null | grep -c "$p"
}
at_least() {	# at_least N CMD...: CMD prints a number >= N (for until_)
	[ "$("${@:2}")" -ge "$1" ]
}
requests() {	# requests the receivers got
	echo $(($(received stored) + $(received duplicate) + $(received refused)))
}
metric() {	# metric 'NAME{LABELS}': its value in ./metrics
	awk -v k="$1" '$1 == k { print $2 }' metrics
}
scrape() {
	[ "$(admin /metrics metrics)" = 200 ] || fail "GET /metrics: $(head -c 300 metrics)"
	metrics_unnode metrics
}
outcomes() {	# outcomes OUTCOME: "delivery" log entries with OUTCOME
	logcount ".detail.outcome == \"$1\"" --kind delivery
}
delivered_all() {
	[ "$(db "SELECT count(*) FROM delivery WHERE state <> 'delivered'")" -eq 0 ]
}
# pushed_to_both: Westland and the inspectorate pushed to the receiver on
# $RPORT, the fixtures ingested and matched; NDEL deliveries queued.
pushed_to_both() {
	party $W "Gemeente Westland" gemeenten=1783 receives=all "push_url=https://127.0.0.1:$RPORT/westland"
	party $N "NLA" "receives=OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING" \
		"push_url=https://127.0.0.1:$RPORT/nla"
	section_set delivery backoff_initial 1
	section_set delivery backoff_max 2
	ingest_examples || fail "ingest failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	NDEL=$(db "SELECT count(*) FROM delivery")
	[ "$NDEL" -gt 2 ] || fail "only $NDEL deliveries queued"
	# under way at once: up to max_in_flight (default 4) for each recipient
	INFL=$(db "SELECT sum(min(n, 4)) FROM (SELECT count(*) AS n FROM delivery GROUP BY oin)")
}
# in_flight_to_stopped_receiver: stops the receiver (SIGSTOP), starts the
# daemon and waits until it has its INFL deliveries under way (connections
# open to the receiver that it has not read).
in_flight_to_stopped_receiver() {
	kill -STOP "$RPID"
	serve
	aport
	conns() { [ "$(ss -Htn state established "( dport = :$RPORT )" | wc -l)" -ge "$INFL" ]; }
	until_ 8 conns || fail "no deliveries under way: $(ss -tn | tail -3)"
}
# finished_cleanly: all NDEL delivered, each stored once, one 'delivered'
# entry each, the log intact
finished_cleanly() {
	until_ 40 delivered_all || fail "not all delivered: $(db "SELECT state, count(*) FROM delivery GROUP BY 1")"
	[ "$(received stored)" -eq "$NDEL" ] || fail "$(received stored) stored, expected $NDEL"
	[ "$(received duplicate)" -eq 0 ] || fail "$(received duplicate) sent twice"
	[ "$(outcomes delivered)" -eq "$NDEL" ] || fail "$(outcomes delivered) 'delivered' entries, expected $NDEL"
	sk log verify >/dev/null || fail "log verify fails"
}

test_disk_full_health_503_outcomes_held_not_sent_again() {
	T0=${D%/data}
	small_fs
	serve_setup "$PKI"
	T=$T0
	cd "$T" || fail "no test directory"
	section_set store min_free_mib 64	# more than the 2 MB tmpfs has
	rcv
	pushed_to_both
	in_flight_to_stopped_receiver
	[ "$(admin /healthz)" = 200 ] || fail "/healthz before the disk filled: $(cat abody)"
	fill_disk
	[ "$(admin /healthz)" = 503 ] || fail "/healthz with the disk full: $(cat abody)"
	jq -e '.failures | any(test("not writable.*full"))' abody >/dev/null || fail "no disk-full failure: $(cat abody)"
	note "healthz, disk full: $(jq -c . abody)"
	# a refusal (Westland may not supply inspectie) that cannot be logged
	got=$(call $W /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json")
	[ "$got" = 403 ] || fail "upload by a party that may not: $got"
	kill -CONT "$RPID"	# the receiver stores what it had; the daemon cannot record it
	until_ 20 at_least "$INFL" received stored || fail "the receiver stored $(received stored)"
	sleep 4	# resending in a loop would show now
	[ "$(requests)" -eq "$INFL" ] || fail "the receiver got $(requests) requests, expected $INFL (sent again $(received duplicate) times)"
	scrape
	[ "$(metric schakel_delivery_outcomes_unrecorded)" = "$INFL" ] || fail "unrecorded: $(grep unrecorded metrics)"
	[ "$(metric schakel_refusals_unlogged_total)" = 1 ] || fail "unlogged refusals: $(grep refusals_unlogged metrics)"
	[ "$(admin /healthz)" = 503 ] || fail "/healthz with outcomes held: $(cat abody)"
	jq -e --arg n "$INFL" '.failures | any(test($n + " delivery outcomes"))' abody >/dev/null || fail "held outcomes not in /healthz: $(cat abody)"
	[ "$(db "SELECT count(*) FROM delivery WHERE state = 'pending' AND attempts = 0")" -eq "$NDEL" ] ||
		fail "the database changed while full"
	rm -f "$MNT/filler"
	finished_cleanly
	[ "$(admin /healthz)" = 200 ] || fail "/healthz with room again: $(cat abody)"
	# under the floor of free space: a warning, not a failure
	jq -e '.warnings | any(test("MiB free"))' abody >/dev/null || fail "no free-space warning: $(cat abody)"
}

test_write_lock_held_longer_than_busy_timeout_outcome_waits_not_resent() {
	serve_setup "$PKI"
	section_set store busy_timeout_ms 1000
	rcv
	pushed_to_both
	in_flight_to_stopped_receiver
	# a command-line writer holds the write lock for longer than 1 s
	hold_write_lock || return 1
	kill -CONT "$RPID"
	until_ 20 at_least "$INFL" received stored || fail "the receiver stored $(received stored)"
	sleep 4	# four busy timeouts: resending would show now
	[ "$(requests)" -eq "$INFL" ] || fail "the receiver got $(requests) requests, expected $INFL (sent again $(received duplicate) times)"
	grep -q "cannot record the outcome yet.*locked" "$SLOG" || fail "the wait is not in the daemon's log"
	echo "COMMIT;" >&7
	exec 7>&-
	wait $lpid
	finished_cleanly
}

test_receiver_down_one_outage_entry_probed_one_at_a_time() {
	serve_setup "$PKI"
	section_set delivery breaker_failures 3
	rcv --refuse 503
	party $W "Gemeente Westland" gemeenten=1783 receives=all "push_url=https://127.0.0.1:$RPORT/westland"
	section_set delivery backoff_initial 1
	section_set delivery backoff_max 2
	ingest_examples || fail "ingest failed"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	NDEL=$(db "SELECT count(*) FROM delivery")
	[ "$NDEL" -gt 3 ] || fail "only $NDEL deliveries queued"
	serve
	aport
	downs() { db "SELECT count(*) FROM exlog WHERE kind = 'recipient_down'"; }
	until_ 20 at_least 1 downs || fail "no recipient_down entry"
	until_ 20 at_least 7 received refused || fail "not probed: $(received refused) requests"
	note "down: $(db "SELECT detail FROM exlog WHERE kind = 'recipient_down'")"
	[ "$(downs)" -eq 1 ] || fail "$(downs) recipient_down entries"
	[ "$(outcomes retry)" -eq 3 ] || fail "$(outcomes retry) failed attempts logged, expected the 3 that opened the outage"
	scrape
	[ "$(metric "schakel_recipient_down{recipient=\"$W\"}")" = 1 ] || fail "not down in /metrics: $(grep recipient metrics)"
	[ "$(metric schakel_delivery_outage_attempts_total)" -ge 3 ] || fail "attempts not counted: $(grep outage metrics)"
	[ "$(admin /)" = 200 ] || fail "no dashboard"
	sed -n '/id="outages"/,/<\/section>/p' abody | grep -q "$W" || fail "the outage is not on the dashboard"
	# the recipient answers again
	stop "$RPID"
	rcv --port "$RPORT"
	until_ 40 delivered_all || fail "not all delivered: $(db "SELECT state, count(*) FROM delivery GROUP BY 1")"
	up=$(db "SELECT detail FROM exlog WHERE kind = 'recipient_up'")
	note "up: $up; the receiver refused $(received refused) requests"
	[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'recipient_up'")" -eq 1 ] || fail "no single recipient_up entry"
	failed=$(echo "$up" | jq .failed)
	[ "$(db "SELECT sum(attempts) FROM delivery")" -eq $((failed + NDEL)) ] ||
		fail "attempts $(db "SELECT sum(attempts) FROM delivery") != $failed failed + $NDEL delivered"
	[ "$failed" -ge "$(received refused)" ] || fail "$failed failed attempts counted, the receiver refused $(received refused)"
	[ "$(outcomes retry)" -eq 3 ] || fail "$(outcomes retry) failed attempts logged"
	[ "$(received stored)" -eq "$NDEL" ] || fail "$(received stored) stored, expected $NDEL"
	[ "$(received duplicate)" -eq 0 ] || fail "sent twice"
	scrape
	[ "$(metric "schakel_recipient_down{recipient=\"$W\"}")" = 0 ] || fail "still down in /metrics"
	sk log verify >/dev/null || fail "log verify fails"
}

test_sigterm_waits_for_deliveries_in_flight_and_records_them() {
	serve_setup "$PKI"
	rcv
	pushed_to_both
	in_flight_to_stopped_receiver
	kill -TERM "$SPID"
	sleep 1
	kill -CONT "$RPID"	# the answers come while the daemon stops
	wait "$SPID"
	rc=$?
	[ "$rc" -eq 0 ] || fail "serve exited $rc"
	[ "$(received stored)" -eq "$INFL" ] || fail "the receiver stored $(received stored), expected $INFL"
	[ "$(db "SELECT count(*) FROM delivery WHERE state = 'delivered' AND attempts = 1")" -eq "$INFL" ] ||
		fail "the $INFL answered are not recorded: $(db "SELECT state, attempts, count(*) FROM delivery GROUP BY 1, 2")"
	[ "$(outcomes delivered)" -eq "$INFL" ] || fail "$(outcomes delivered) 'delivered' entries, expected $INFL"
	grep -q "waiting for the answers" "$SLOG" || fail "the daemon did not say it waited: $(tail -5 "$SLOG")"
	serve
	finished_cleanly
}

test_sigterm_drain_time_bounds_the_wait_for_a_receiver_that_never_answers() {
	serve_setup "$PKI"
	section_set delivery drain_seconds 1
	rcv
	pushed_to_both
	in_flight_to_stopped_receiver
	kill -TERM "$SPID"
	until_ 20 eval '! kill -0 "$SPID" 2>/dev/null' || fail "the daemon still runs 20 s after SIGTERM (drain_seconds 1)"
	wait "$SPID"
	rc=$?
	[ "$rc" -eq 0 ] || fail "serve exited $rc"
	grep -q "stopping with deliveries under way" "$SLOG" || fail "the abandoned deliveries are not in the log"
	[ "$(db "SELECT count(*) FROM delivery WHERE state = 'pending'")" -eq "$NDEL" ] || fail "not all pending"
	kill -KILL "$RPID"	# its two connections go with it
	wait "$RPID" 2>/dev/null
	rcv
	sed -i "s|127.0.0.1:[0-9]*/|127.0.0.1:$RPORT/|" "$D/schakel.conf"
	serve
	finished_cleanly
}

ts "disk full (2 MB tmpfs): ingest exits 1 'database or disk is full', nothing changed, log intact" test_disk_full_ingest_fails_cleanly
ts "disk full: an upload gets a 500 JSON error, the daemon keeps serving the inbox" test_disk_full_upload_500_and_daemon_keeps_serving
tt "database locked by another process (busy_timeout_ms 200): ingest exits 1 'database is locked', nothing written" test_database_locked_ingest_fails_nothing_written
tt "database locked: an upload fails with a clear error, reads go on, nothing written" test_database_locked_upload_500_daemon_goes_on
tt "signing key a directory, garbage, empty or missing: serve refuses to start, naming the key" test_signing_key_unreadable_serve_refuses_to_start
tt "signing key spoilt while running: reload refused, deliveries pending with a clear error, delivered when it is back" test_signing_key_spoilt_while_running_reload_refused
tt "receiver killed with a delivery in flight: pending, delivered when it returns" test_receiver_killed_mid_delivery_stays_pending_then_delivered
tt "source killed mid-page: the pull fails cleanly, no half page, no cursor move" test_source_killed_mid_page_pull_fails_stores_nothing
ts "disk full under the daemon: /healthz 503, the outcomes held (not sent again), refusals counted, all delivered once after" test_disk_full_health_503_outcomes_held_not_sent_again
tt "write lock held past the busy timeout: the outcome waits, nothing sent again, all delivered once after" test_write_lock_held_longer_than_busy_timeout_outcome_waits_not_resent
tt "receiver down: one outage entry each way, probed one at a time, shown on /metrics and the dashboard" test_receiver_down_one_outage_entry_probed_one_at_a_time
tt "SIGTERM with deliveries in flight: their answers awaited and recorded, nothing sent again" test_sigterm_waits_for_deliveries_in_flight_and_records_them
tt "SIGTERM with a receiver that never answers: the daemon exits after drain_seconds, all delivered once after the restart" test_sigterm_drain_time_bounds_the_wait_for_a_receiver_that_never_answers
