#!/bin/bash
# Fail-over (issue 15, part 4): two `schakel serve` nodes on one PostgreSQL
# database push to one reference receiver (`schakel receive`) 2,000 and
# more deliveries, while uploads go to either node and one node is killed
# with SIGKILL at random moments, at least five times, and restarted each
# time.  At the end:
#   - every outbox row is delivered, and every signal has a delivery to
#     each of its recipients with a push_url (0 lost);
#   - the receiver stored each message once (its file DIR/<message id>.xml;
#     a message sent again after a kill is dropped by its id, counted);
#     the files are exactly the outbox's message ids;
#   - every upload that was sent (again, to the other node, when its node
#     died under it) is stored: every dwelling of every upload is there;
#   - `log verify` passes on both nodes.
#
# Skipped (TAP "# skip", with the binary's reason) only while `schakel
# serve` itself says it is not supported with backend = postgresql.
#
#   FAILOVER_KILLS=N (default 6)   how many kills
. "$(dirname "$0")/../e2e/lib.sh"
. "$E2E/servers.sh"
. "$ROOT/tests/pg/cluster.sh"
. "$ROOT/tests/pg/nodes_lib.sh"

W=00000001000000001783	# Gemeente Westland, gemeenten 1783
N=00000001003214345000	# Nederlandse Arbeidsinspectie, national
KILLS=${FAILOVER_KILLS:-6}
CHUNKS=10		# uploads during the run, CHUNK_ADDRS new dwellings each
CHUNK_ADDRS=30
BASE_ADDRS=1000		# dwellings ingested before the nodes start

pg_start trust
PKI=$TMP/pki
"$ROOT/certs/mkcerts.sh" "$PKI" $W:Westland $N:NLA >/dev/null ||
	{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }

q() {	# q SQL: one value from the test's database
	pg_sql "$PGDB" -c "$1"
}

# register FIRST COUNT: a huisvesting file of COUNT dwellings of 10 m2 from
# address FIRST on, at the addresses gen-brp.sh gives its persons (four to
# an address: OVERBEWONING at each)
register() {
	awk -v f="$1" -v n="$2" 'BEGIN {
		print "gemeentecode;nummeraanduiding_id;postcode;huisnummer;huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;vergunning_nummer;vergunning_geldig_tot"
		for (a = f; a < f + n; a++)
			printf "1783;;%04d%c%c;%d;;;Naaldwijk;10;woonfunctie;;;\n", 1000 + a % 9000,
				65 + int(a / 9000) % 26, 65 + int(a / 234000) % 26, 1 + a % 7
	}'
}

# node_start NAME: serves node NAME's directory; ${NAME}_PID, its API's
# port in $T/NAME.port (for the uploader, a process of its own)
_starts=0
node_start() {
	_starts=$((_starts + 1))
	launch "$T/serve.$1.$_starts.log" "$SCHAKEL" -D "$T/$1" serve --port 0
	eval "${1}_PID=$LPID"
	echo "$LPORT" >"$T/$1.port"
}

# upload_any FILE: POSTs FILE as Westland's huisvesting to node a or b, and
# to the other when the first does not answer 200 (killed under it), until
# one stores it; the nodes' ports are read afresh each try.
upload_any() {
	local f=$1 try node port code
	for try in $(seq 60); do
		node=$([ $((RANDOM % 2)) = 0 ] && echo a || echo b)
		port=$(cat "$T/$node.port" 2>/dev/null)
		[ -n "$port" ] || { sleep 0.5; continue; }
		code=$(curl -sS -o "$T/upload.out" -w '%{http_code}' --max-time 60 \
			--cacert "$PKI/ca.crt" --cert "$PKI/party-$W.crt" --key "$PKI/party-$W.key" \
			--data-binary "@$f" "https://127.0.0.1:$port/v1/uploads/huisvesting" 2>/dev/null)
		[ "$code" = 200 ] && { echo "$node"; return 0; }
		sleep 0.3
	done
	return 1
}

test_two_nodes_one_killed_again_and_again() {
	T=${D%/data}
	mkdir -p "$T" && cd "$T" || fail "no test directory"
	PGDB=f_${BASHPID}
	DSN=$(pg_createdb "$PGDB") || fail "createdb"
	R=$T/received
	mkdir -p "$R"
	pg_node "$T/a" a "$DSN"
	pg_serve_unsupported "$T/a" && { echo "SKIP: $SKIP_WHY"; exit 77; }
	cp -r "$PKI" "$T/a/certs"
	conf_in "$T/a" admin port 0
	conf_in "$T/a" delivery backoff_initial 1
	conf_in "$T/a" delivery backoff_max 2
	conf_in "$T/a" server lease_seconds 5
	launch "$T/receive.log" "$SCHAKEL" receive --dir "$R" --port 0 --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --ca "$PKI/ca.crt" --broker-cert "$PKI/server.crt" --delay 60
	RPORT=$LPORT	# each answer held 60 ms: the deliveries last while the nodes are killed
	cat >>"$T/a/schakel.conf" <<-EOF

	[party.$W]
	name = Gemeente Westland
	gemeenten = 1783
	supplies = huisvesting
	receives = all
	push_url = https://127.0.0.1:$RPORT/westland

	[party.$N]
	name = NLA
	receives = OVERBEWONING
	push_url = https://127.0.0.1:$RPORT/nla
	EOF
	pg_node "$T/b" b "$DSN" "$T/a"
	# Four persons at every address the run will use; the first dwellings.
	all=$((BASE_ADDRS + CHUNKS * CHUNK_ADDRS))
	"$ROOT/tests/tools/gen-brp.sh" $((4 * all + 8)) >brp.xml
	"$SCHAKEL" -D "$T/a" ingest brp brp.xml >ingest.out 2>&1 || fail "ingest brp: $(tail -3 ingest.out)"
	register 0 "$BASE_ADDRS" >base.csv
	"$SCHAKEL" -D "$T/a" ingest huisvesting base.csv >ingest.out 2>&1 || fail "ingest huisvesting: $(tail -3 ingest.out)"
	"$SCHAKEL" -D "$T/a" match >match.out 2>&1 || fail "match: $(tail -3 match.out)"
	note "before the nodes start: $(q 'SELECT count(*) FROM delivery') deliveries queued"
	for c in $(seq 1 "$CHUNKS"); do
		register $((BASE_ADDRS + (c - 1) * CHUNK_ADDRS)) "$CHUNK_ADDRS" >"chunk$c.csv"
	done
	node_start a
	node_start b
	# The run: uploads to either node, and node a or b killed and restarted.
	(
		for c in $(seq 1 "$CHUNKS"); do
			upload_any "chunk$c.csv" >>uploads.out || { echo "chunk$c: never stored" >>uploads.out; exit 1; }
			sleep 0.$((RANDOM % 9 + 1))
		done
	) &
	UPLOADER=$!
	PIDS+=("$UPLOADER")
	midway=0
	for k in $(seq 1 "$KILLS"); do
		sleep $((RANDOM % 3)).$((RANDOM % 10))
		victim=$([ $((RANDOM % 2)) = 0 ] && echo a || echo b)
		eval "pid=\$${victim}_PID"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		rm -f "$T/$victim.port"
		pending=$(q "SELECT count(*) FROM delivery WHERE state <> 'delivered'")
		[ "$pending" -gt 0 ] && midway=$((midway + 1))
		note "kill $k: node $victim (pid $pid), $pending deliveries not delivered yet of $(q 'SELECT count(*) FROM delivery')"
		sleep 0.$((RANDOM % 9 + 1))
		node_start "$victim"
	done
	wait "$UPLOADER" || fail "an upload was never stored: $(cat uploads.out)"
	note "uploads stored by node: $(sort uploads.out | uniq -c | xargs)"
	done_() { [ "$(q "SELECT count(*) FROM delivery WHERE state <> 'delivered'")" = 0 ]; }
	until_ 600 done_ || fail "not all delivered: $(q "SELECT state || ' ' || count(*) FROM delivery GROUP BY state")"
	# Every dwelling of every upload is stored, and the base ones.
	[ "$(q 'SELECT count(*) FROM dwelling')" = "$all" ] || fail "$(q 'SELECT count(*) FROM dwelling') dwellings, expected $all"
	total=$(q 'SELECT count(*) FROM delivery')
	[ "$total" -ge 2000 ] || fail "only $total deliveries"
	# 0 lost: each signal's recipients with a push_url each have a delivery.
	lost=$(q "SELECT count(*) FROM signal_recipient r JOIN signal s ON s.seq = r.signal_seq
		WHERE r.oin IN ('$W', '$N') AND NOT EXISTS
		(SELECT 1 FROM delivery d WHERE d.signal_id = s.id AND d.oin = r.oin)")
	[ "$lost" = 0 ] || fail "$lost routed signals without a delivery"
	# Each delivered once at the receiver: its files are the outbox's message ids.
	q 'SELECT message_id FROM delivery ORDER BY 1' >want.ids
	(cd "$R" && ls -- *.xml) | sed 's/\.xml$//' | sort >got.ids
	diff want.ids got.ids >ids.diff || fail "the receiver's files are not the outbox: $(head -5 ids.diff)"
	stored=$(grep -c 'verified and stored' "$T/receive.log")
	dropped=$(grep -c 'duplicate, dropped' "$T/receive.log")
	[ "$stored" = "$total" ] || fail "the receiver stored $stored messages for $total deliveries"
	note "$total deliveries, $KILLS kills ($midway while deliveries were under way): each stored once; $dropped sent again after a kill and dropped by the receiver"
	"$SCHAKEL" -D "$T/a" log verify >verify.out 2>&1 || fail "log verify: $(cat verify.out)"
	"$SCHAKEL" -D "$T/b" log verify >verify.out 2>&1 || fail "log verify on b: $(cat verify.out)"
}

# As t, with exit 77 from the test a TAP skip (its reason from the test's output).
_n=$((_n + 1))
(D=$(mktemp -d "$TMP/d-XXXXXX")/data; cd "$TMP"; test_two_nodes_one_killed_again_and_again) >"$TMP/out" 2>&1
rc=$?
name="two serve nodes, one killed by SIGKILL $KILLS times: every delivery once, every upload stored, log verify"
if [ "$rc" = 77 ]; then
	echo "ok $_n - $name # skip $(sed -n 's/^SKIP: //p' "$TMP/out" | head -1)"
elif [ "$rc" = 0 ]; then
	echo "ok $_n - $name"
else
	echo "not ok $_n - $name"
	_failed=1
	sed 's/^/#   /' "$TMP/out" | tail -40
fi
echo "1..$_n"
[ "$_failed" -eq 0 ]
