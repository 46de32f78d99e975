#!/bin/bash
# bench/run.sh - the benchmarks of schakel (`make bench`; docs/performance.md).
#
#   bench/run.sh               the full run (about 10-15 minutes on 2 cores)
#   BENCH_QUICK=1 bench/run.sh 10^4 and 10^5 only, to check that it works
#   BENCH_RUNS=N               timed runs per figure (default 3; medians)
#   BENCH_ONLY=delivery,upload only these sections (ingest, match, delivery,
#                              upload, latency, ldv, stall; scaling comes
#                              with ingest and match), and only the data
#                              they need
#   BENCH_DELIVERY_SIGNALS=N   signals pushed per delivery run (default
#                              10000; 2000 with BENCH_QUICK=1)
#   BENCH_DELIVERY_RECIPIENTS=N  recipients they go to, evenly (default 50)
#   BENCH_LDV_SIZE=N           records of the ldv section (processing
#                              records on and off; default 10^5)
#   BENCH_SCHAKEL=PATH         the binary to measure (default build/schakel;
#                              a copy, say, while others rebuild the tree)
#   BENCH_BASELINE=PATH        another binary (a build of an older commit,
#                              with its adapters in PATH/../adapters) run
#                              beside it in the upload and stall sections
#   BENCH_STALL_N=N            persons of the stall section's upload
#                              (default 10^6; 10^5 with BENCH_QUICK=1)
#   BENCH_STORE=postgresql     also the ingest (the two largest sizes:
#                              10^5 and 10^6; 10^4 and 10^5 with
#                              BENCH_QUICK=1) and the match (first and
#                              second run at 10^6) on PostgreSQL, beside
#                              SQLite on the same input, on a throw-away
#                              PostgreSQL 15 cluster (tests/pg/cluster.sh),
#                              with the server's CPU time counted; and the
#                              delivery rate on one and two nodes, or why
#                              not (section 8).  Default: sqlite
#
# Input data is generated once, deterministically, under bench/data/ and
# reused; every timed run works on a fresh data directory or a fresh copy of
# a prepared database.  Results: a table on stdout, and JSON in
# bench/results/<UTC timestamp>.json and bench/results/latest.json.
# Timings are measured, never asserted: the exit code is 0 unless the
# benchmark itself could not run.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
data=$bench/data
results=$bench/results
S=${BENCH_SCHAKEL:-$root/build/schakel}
runs=${BENCH_RUNS:-3}
quick=${BENCH_QUICK:-0}
store=${BENCH_STORE:-sqlite}
case $store in
sqlite | postgresql) ;;
*) echo "bench: BENCH_STORE must be sqlite or postgresql, not '$store'" >&2; exit 1 ;;
esac
asof=2026-11-01
work=$(mktemp -d /tmp/schakel-bench.XXXXXX)
server_pid=
recv_pid=
extra_pids=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	for p_ in $extra_pids; do kill "$p_" 2>/dev/null && wait "$p_" 2>/dev/null; done
	[ -n "$recv_pid" ] && kill "$recv_pid" 2>/dev/null && wait "$recv_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$S" ] || { echo "bench: $S is missing; run make all" >&2; exit 1; }
for tool in xmllint sqlite3 gcc awk openssl curl jq; do
	command -v $tool >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
mkdir -p "$data" "$results"

if [ "$quick" = 1 ]; then
	ingest_sizes="10000 100000"; match_sizes="10000 100000"; match_main=100000
	up_requests=300; up_seconds=5; deliv_signals=${BENCH_DELIVERY_SIGNALS:-2000}
	stall_n=${BENCH_STALL_N:-100000}
else
	ingest_sizes="10000 100000 1000000"; match_sizes="10000 100000 1000000"; match_main=1000000
	up_requests=3000; up_seconds=15; deliv_signals=${BENCH_DELIVERY_SIGNALS:-10000}
	stall_n=${BENCH_STALL_N:-1000000}
fi
# The delivery data come from the match directory of 10^5 registrations:
# its 12 481 signals include 11 720 for the inspectorate, enough for 10^4.
deliv_from=100000

# only SECTION: whether BENCH_ONLY (a comma-separated list; empty: all)
# selects SECTION.  Scaling is reported when ingest and match both ran.
only_sections=${BENCH_ONLY:-}
for s_ in ${only_sections//,/ }; do
	case $s_ in
	ingest | match | delivery | upload | latency | ldv | stall) ;;
	*) echo "bench: BENCH_ONLY: unknown section '$s_' (ingest, match, delivery, upload, latency, ldv, stall)" >&2; exit 1 ;;
	esac
done
only() { [ -z "$only_sections" ] || [[ ",$only_sections," == *",$1,"* ]]; }
[[ $deliv_signals =~ ^[1-9][0-9]*$ ]] && [ "$deliv_signals" -le 11720 ] ||
	{ echo "bench: BENCH_DELIVERY_SIGNALS must be 1-11720" >&2; exit 1; }
deliv_recipients=${BENCH_DELIVERY_RECIPIENTS:-50}
[[ $deliv_recipients =~ ^[1-9][0-9]*$ ]] && [ "$deliv_recipients" -le 64 ] ||
	{ echo "bench: BENCH_DELIVERY_RECIPIENTS must be 1-64" >&2; exit 1; }

say() { printf '%s\n' "$*" >&2; }
now() { echo "$EPOCHREALTIME"; }
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
fmt() { awk -v a="$1" -v p="${2:-2}" 'BEGIN { printf "%.*f", p, a }'; }
filesize() { stat -c %s "$1"; }

# timed CMD...: runs CMD with /usr/bin/time; sets T (wall seconds, from the
# shell's clock), CPU (user + system seconds) and RSS (peak resident set,
# KiB).  Output goes to $work/out.
timed() {
	local t0 t1
	t0=$(now)
	/usr/bin/time -f '%M %U %S' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
		local rc=$?
		# ingest exits 3 when records were rejected: not a failure here
		if [ $rc -ne 3 ]; then
			say "bench: failed ($rc): $*"; cat "$work/err" >&2; exit 1
		fi
	}
	t1=$(now)
	T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
	read -r RSS cpu_u cpu_s < <(tail -1 "$work/time")
	CPU=$(awk -v u="$cpu_u" -v s="$cpu_s" 'BEGIN { printf "%.2f", u + s }')
}

# ---------------------------------------------------------------- data
gen() {	# gen FILE COMMAND...: makes FILE once
	local f=$1; shift
	if [ ! -s "$f" ]; then
		say "  generating $(basename "$f")"
		"$@" >"$f.tmp" && mv "$f.tmp" "$f"
	fi
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "bench: data in $data"
# the match sizes whose data the selected sections need
prep_sizes=
ldv_n=${BENCH_LDV_SIZE:-100000}
if only match; then prep_sizes=$match_sizes; elif only delivery; then prep_sizes=$deliv_from; fi
if only latency && [[ " $prep_sizes " != *" $match_main "* ]]; then prep_sizes+=" $match_main"; fi
if only ldv && [[ " $prep_sizes " != *" $ldv_n "* ]]; then prep_sizes+=" $ldv_n"; fi
only ldv && gen "$data/brp-$ldv_n.xml" "$root/tests/tools/gen-brp.sh" "$ldv_n"
if only stall; then
	gen "$data/match-brp-$stall_n.xml" "$bench/gen-match-brp.sh" "$stall_n"
	gen "$data/match-huisvesting-$stall_n.csv" "$bench/gen-match-huisvesting.sh" "$stall_n"
	gen "$data/match-inspectie-$stall_n.json" "$bench/gen-match-inspectie.sh" "$stall_n"
fi
if only ingest; then
	for n in $ingest_sizes; do
		gen "$data/brp-$n.xml" "$root/tests/tools/gen-brp.sh" "$n"
	done
fi
for n in $prep_sizes; do
	gen "$data/match-brp-$n.xml" "$bench/gen-match-brp.sh" "$n"
	gen "$data/match-huisvesting-$n.csv" "$bench/gen-match-huisvesting.sh" "$n"
	gen "$data/match-inspectie-$n.json" "$bench/gen-match-inspectie.sh" "$n"
done
only upload && gen "$data/upload-20.xml" "$root/tests/tools/gen-brp.sh" 20
# One development PKI for the upload API (four parties) and for delivery
# (the receiver and the broker use server.crt: a certificate with an OIN,
# for serverAuth and clientAuth).
oins="00000001000000000011 00000001000000000012 00000001000000000013 00000001000000000014"
if { only delivery || only upload; } && [ ! -f "$data/pki/ca.crt" ]; then
	"$root/certs/mkcerts.sh" "$data/pki" $oins >/dev/null
fi
# and one for the match data's Westland (the latency section's uploader)
if only latency && [ ! -f "$data/pki-match/ca.crt" ]; then
	"$root/certs/mkcerts.sh" "$data/pki-match" 00000001000000001783 >/dev/null
fi

# the configuration of the match data directories
match_conf() {
	cat <<'CONF'
[rule.GEEN_VERGUNNING]
gemeenten = 1783
[party.00000001000000001783]
name = Gemeente Westland
gemeenten = 1783
supplies = brp, huisvesting
receives = all
[party.00000001000000000983]
name = Gemeente Venlo
gemeenten = 0983
supplies = brp
receives = all
[party.00000001000000000363]
name = Gemeente Amsterdam
gemeenten = 0363
supplies = brp
receives = all
[party.00000001003214345000]
name = Nederlandse Arbeidsinspectie
supplies = inspectie
receives = OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING
CONF
}

# A prepared data directory per match size: the three sources ingested.
# Kept under bench/data/ and reused while the inputs, the schemas and the
# binary are older than it.
prepare_match() {
	local n=$1 d=$data/match-$n
	if [ -f "$d/.ready" ] && [ "$d/.ready" -nt "$S" ] && [ "$d/.ready" -nt "$root/schemas" ]; then
		return
	fi
	say "  preparing match data directory for $n registrations"
	rm -rf "$d"
	mkdir -m 700 "$d"
	match_conf >"$d/schakel.conf"
	chmod 600 "$d/schakel.conf"
	"$S" -D "$d" init >/dev/null
	"$S" -D "$d" ingest brp "$data/match-brp-$n.xml" >/dev/null
	"$S" -D "$d" ingest huisvesting "$data/match-huisvesting-$n.csv" >/dev/null
	"$S" -D "$d" ingest inspectie "$data/match-inspectie-$n.json" >/dev/null
	sqlite3 "$d/schakel.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
	touch "$d/.ready"
}
for n in $prep_sizes; do prepare_match "$n"; done

# ---------------------------------------------------------------- JSON
json_ingest=""; json_match=""; json_upload=""; json_scaling=""; json_ldv='"not run"'
table=""
row() { table+=$(printf '%-44s %s' "$1" "$2")$'\n'; }
jadd() { local -n v=$1; v+="${v:+,}$2"; }

# ---------------------------------------------------------------- 1 ingest
# ingest_pair N: runs of `schakel ingest brp` and of xmllint on the N file,
# alternating; sets the medians IT, ICPU, IRSS (schakel) and XT, XCPU, XRSS
# (xmllint) and the runs IRUNS, XRUNS.
ingest_pair() {
	local n=$1 f=$data/brp-$1.xml ts=() cs=() rss=() xs=() xcs=() xrss=() r
	for ((r = 0; r < runs; r++)); do
		rm -rf "$work/d"
		"$S" -D "$work/d" init >/dev/null
		sync
		timed "$S" -D "$work/d" ingest brp "$f"
		grep -q "$n accepted" "$work/out" || { say "bench: unexpected: $(cat "$work/out")"; exit 1; }
		ts+=("$T"); cs+=("$CPU"); rss+=("$RSS")
		timed xmllint --stream --noout --schema "$root/schemas/stufbg0310-profile.xsd" "$f"
		xs+=("$T"); xcs+=("$CPU"); xrss+=("$RSS")
	done
	IT=$(printf '%s\n' "${ts[@]}" | median); XT=$(printf '%s\n' "${xs[@]}" | median)
	ICPU=$(printf '%s\n' "${cs[@]}" | median); XCPU=$(printf '%s\n' "${xcs[@]}" | median)
	IRSS=$(printf '%s\n' "${rss[@]}" | median); XRSS=$(printf '%s\n' "${xrss[@]}" | median)
	IRUNS=$(IFS=,; echo "${ts[*]}"); XRUNS=$(IFS=,; echo "${xs[*]}")
}
verdict() { awk -v q="$1" -v g="$2" 'BEGIN { print (q <= g) ? "met" : "NOT met" }'; }

if only ingest; then
	say "bench: 1. ingest (brp, gen-brp.sh), $runs runs each"
	declare -A ING_T ING_RSS
	for n in $ingest_sizes; do
		bytes=$(filesize "$data/brp-$n.xml")
		ingest_pair "$n"
		t=$IT; x=$XT; m=$IRSS; xm=$XRSS
		ING_T[$n]=$t; ING_RSS[$n]=$m
		rps=$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }')
		mbs=$(awk -v b="$bytes" -v t="$t" 'BEGIN { printf "%.2f", b / 1048576 / t }')
		xrps=$(awk -v n="$n" -v t="$x" 'BEGIN { printf "%.0f", n / t }')
		xmbs=$(awk -v b="$bytes" -v t="$x" 'BEGIN { printf "%.2f", b / 1048576 / t }')
		q=$(ratio "$t" "$x"); qc=$(ratio "$ICPU" "$XCPU")
		row "ingest brp $n ($(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MB)" \
			"$(fmt "$t" 2) s (CPU $(fmt "$ICPU" 2) s), $rps rec/s, $mbs MB/s, RSS $((m / 1024)) MiB"
		row "  xmllint --stream --schema (floor)" \
			"$(fmt "$x" 2) s (CPU $(fmt "$XCPU" 2) s), $xrps rec/s, $xmbs MB/s, RSS $((xm / 1024)) MiB"
		row "  ratio ingest/xmllint, wall (goal <= 1.2)" "${q}x $(verdict "$q" 1.2)"
		row "  ratio ingest/xmllint, CPU user+sys (<= 1.3)" "${qc}x $(verdict "$qc" 1.3)"
		busy=null
		if [ "$n" -ge 100000 ] && command -v taskset >/dev/null; then
			# the wall ratio again with one of the cores busy
			taskset -c 0 yes >/dev/null &
			yes_pid=$!
			ingest_pair "$n"
			kill "$yes_pid"; wait "$yes_pid" 2>/dev/null || true
			qb=$(ratio "$IT" "$XT")
			row "  ratio, wall, with core 0 busy (yes)" "${qb}x ($(fmt "$IT" 2) s / $(fmt "$XT" 2) s; CPU $(fmt "$ICPU" 2) / $(fmt "$XCPU" 2) s)"
			busy="{\"seconds\":$IT,\"cpu_seconds\":$ICPU,\"xmllint_seconds\":$XT,\"xmllint_cpu_seconds\":$XCPU,\"ratio\":$qb}"
		fi
		jadd json_ingest "{\"records\":$n,\"bytes\":$bytes,\"seconds\":$t,\"cpu_seconds\":$ICPU,\"records_per_s\":$rps,\"mb_per_s\":$mbs,\"peak_rss_kib\":$m,\"runs\":[$IRUNS],\"xmllint\":{\"seconds\":$x,\"cpu_seconds\":$XCPU,\"records_per_s\":$xrps,\"mb_per_s\":$xmbs,\"peak_rss_kib\":$xm,\"runs\":[$XRUNS]},\"ratio\":$q,\"ratio_cpu\":$qc,\"goal\":1.2,\"goal_cpu\":1.3,\"met\":$([ "$(verdict "$q" 1.2)" = met ] && echo true || echo false),\"met_cpu\":$([ "$(verdict "$qc" 1.3)" = met ] && echo true || echo false),\"one_core_busy\":$busy}"
	done
	# the two largest sizes (10^5 and 10^6, as the issue asks): SQLite's
	# page cache fills up to [store] cache_mib and then stays, so memory is
	# flat once a database outgrows it, not from the smallest file on
	set -- $ingest_sizes
	big=${!#}
	[ $# -ge 2 ] && small=${@: -2:1} || small=$big
	rss_flat=$(ratio "${ING_RSS[$big]}" "${ING_RSS[$small]}")
	row "  peak RSS ${big}/${small} (flat = ~1)" "${rss_flat}x ($((ING_RSS[$small] / 1024)) -> $((ING_RSS[$big] / 1024)) MiB)"
fi

# ---------------------------------------------------------------- 2 match
if only match; then
	# match_time N: median first-match and second-match times of schakel and the
	# SQL floor on fresh copies of the prepared database.  Sets MT, MT2, FT and
	# the counts.
	match_time() {
		local n=$1 d=$data/match-$n ts=() t2s=() fs=() cs=() c2s=() r
		for ((r = 0; r < runs; r++)); do
			rm -rf "$work/m"
			cp -a "$d" "$work/m"
			sync
			timed "$S" -D "$work/m" match --as-of "$asof"
			ts+=("$T"); cs+=("$CPU"); MRSS=$RSS
			MOUT=$(cat "$work/out")
			timed "$S" -D "$work/m" match --as-of "$asof"
			t2s+=("$T"); c2s+=("$CPU")
			MOUT2=$(cat "$work/out")
			COUNTS=$(sqlite3 "$work/m/schakel.db" "SELECT rule || '=' || count(*) FROM signal GROUP BY rule ORDER BY rule" | tr '\n' ' ')
			rm -rf "$work/m"
			cp -a "$d" "$work/m"
			sync
			timed sqlite3 "$work/m/schakel.db" ".read $bench/match-floor.sql"
			fs+=("$T")
			FLOOR=$(grep -v '^addresses' "$work/out" | sort | tr '|' '=' | tr '\n' ' ')
		done
		rm -rf "$work/m"
		MT=$(printf '%s\n' "${ts[@]}" | median)
		MT2=$(printf '%s\n' "${t2s[@]}" | median)
		FT=$(printf '%s\n' "${fs[@]}" | median)
		MCPU=$(printf '%s\n' "${cs[@]}" | median); MCPU2=$(printf '%s\n' "${c2s[@]}" | median)
		MRUNS=$(IFS=,; echo "${ts[*]}"); MRUNS2=$(IFS=,; echo "${t2s[*]}"); FRUNS=$(IFS=,; echo "${fs[*]}")
		if [ "$COUNTS" != "$FLOOR" ]; then
			say "bench: WARNING: schakel raised [$COUNTS], the SQL floor counts [$FLOOR]"
		fi
	}
	declare -A M_T
	say "bench: 2. match, $runs runs each"
	for n in $match_sizes; do
		match_time "$n"
		M_T[$n]=$MT
		sig=$(echo "$MOUT" | sed -n 's/.*, \([0-9]*\) signals hold.*/\1/p')
		addrs=$(echo "$MOUT" | sed -n 's/.*: \([0-9]*\) addresses.*/\1/p')
		dw=$((3 * n / 10)); fi=$((n / 10))
		q=$(ratio "$MT" "$FT"); q2=$(ratio "$MT2" "$FT")
		met=$(awk -v q="$q" 'BEGIN { print (q <= 1.2) ? "true" : "false" }')
		jadd json_match "{\"registrations\":$n,\"dwellings\":$dw,\"findings\":$fi,\"addresses\":$addrs,\"signals\":$sig,\"counts\":\"${COUNTS% }\",\"first_run\":{\"seconds\":$MT,\"cpu_seconds\":$MCPU,\"peak_rss_kib\":$MRSS,\"runs\":[$MRUNS]},\"second_run\":{\"seconds\":$MT2,\"cpu_seconds\":$MCPU2,\"runs\":[$MRUNS2],\"created\":0},\"floor_sql\":{\"seconds\":$FT,\"runs\":[$FRUNS]},\"ratio\":$q,\"ratio_second_run\":$q2,\"goal\":1.2,\"met\":$met}"
		if [ "$n" = "$match_main" ]; then
			row "match $n reg, $dw dw, $fi find" "$(fmt "$MT" 2) s (CPU $(fmt "$MCPU" 2) s) first run ($sig signals at $addrs addresses), RSS $((MRSS / 1024)) MiB"
			row "  second run, same data (creates nothing)" "$(fmt "$MT2" 2) s (CPU $(fmt "$MCPU2" 2) s)"
			row "  plain SQL in sqlite3 (floor)" "$(fmt "$FT" 2) s"
			row "  ratio match/floor (goal <= 1.2)" "${q}x first run, ${q2}x second run: $([ "$met" = true ] && echo met || echo NOT met)"
			row "  signals by rule" "${COUNTS% }"
		fi
	done
fi

# ---------------------------------------------------------------- 3 delivery
# Push delivery (src/deliver.c): N signals (10^4; 2000 with BENCH_QUICK=1)
# to R recipients (50), N/R each, pushed by `schakel serve` to the reference
# receiver (`schakel receive`) on 127.0.0.1 over mutual TLS.  For each the
# daemon reads the signal, builds and signs (XMLDSig) the document, POSTs
# it, and commits the outcome with its log entry; a run ends when the last
# outcome is committed.  Beside it the floor: the same N bodies POSTed by
# bench/postgen.c (libcurl multi) to the same receiver, with nothing
# signed, read or committed, at the same parallelism.
#
# The data: the match directory of 10^5 registrations with a push_url for
# the inspectorate, matched once (the match queues the outbox rows, one per
# signal for each party that has a push_url at that moment), the outbox then
# cut to its N oldest rows and, with R > 1, dealt round-robin to R parties
# 0000000100000010000k, each with a push_url of its own (/bench/k on the one
# receiver; the inspectorate keeps /bench).  Kept as
# bench/data/delivery-N-R/.  The port in push_url is set per run: the
# daemon reads the parties' current push_url.
#
# Fairness:
# - the deliverer has max_in_flight (default 4) messages in flight per
#   recipient, all recipients at once ([delivery] max_in_flight, default
#   256, is the total): 4R requests at once (200 for R = 50).  The floor has
#   as many in flight, each on a kept-alive connection of its own (postgen
#   reports how many it made);
# - the receiver verifies each signature (it refuses an unsigned body) and
#   fsyncs each file, so the floor POSTs the very documents the broker
#   signed in its first run (kept from that run's receiver directory, under
#   their message ids and with the same headers); every run, broker or
#   floor, gets a fresh receiver with an empty directory;
# - broker and floor runs alternate, so load from other work on the machine
#   falls on both alike;
# - the broker's time runs from the daemon's start (its start-up and first
#   TLS handshake included; the time to the first delivery is reported
#   apart) to the commit of the last outcome, taken from the exchange log's
#   millisecond timestamp; the outbox is polled only to know when to look.
#   The floor's time runs from its first request to its last answer;
# - CPU time (user+sys): the daemon's from /proc/PID/stat once the last
#   outcome is in (before SIGTERM: start-up included, the drain not), the
#   floor's from /usr/bin/time; the receiver's likewise, for both.
deliv_oin=00000001003214345000	# the inspectorate: every address, three rules
deliv_inflight=$((deliv_recipients * 4))	# [party] max_in_flight's default
# the OIN of bench recipient K (1-64)
bench_oin() { printf '000000010000001%05d' "$1"; }
clk_tck=$(getconf CLK_TCK)
# cpu_of PID: user+sys seconds of a running process
cpu_of() { awk -v t="$clk_tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }

prepare_delivery() {	# prepare_delivery N R: bench/data/delivery-N-R, once
	local n=$1 nr=$2 m=$data/match-$deliv_from d=$data/delivery-$1-$2 q k
	if [ -f "$d/.ready" ] && [ "$d/.ready" -nt "$m/.ready" ] && [ "$d/.ready" -nt "$data/pki/ca.crt" ]; then
		return
	fi
	say "  preparing delivery data directory for $n signals"
	rm -rf "$d" "$d.tmp"
	cp -a "$m" "$d.tmp"
	rm -f "$d.tmp/.ready"
	sed -i "/^\[party\.$deliv_oin\]\$/a push_url = https://127.0.0.1:9/bench" "$d.tmp/schakel.conf"
	# no operator's listener: its fixed port may be taken on a shared machine
	printf '[admin]\nenabled = false\n' >>"$d.tmp/schakel.conf"
	cp -a "$data/pki" "$d.tmp/certs"
	"$S" -D "$d.tmp" match --as-of "$asof" >/dev/null
	q=$(sqlite3 "$d.tmp/schakel.db" "DELETE FROM delivery WHERE id NOT IN
		(SELECT id FROM delivery ORDER BY id LIMIT $n);
		SELECT count(*) FROM delivery WHERE state = 'pending' AND oin = '$deliv_oin';" | tail -1)
	[ "$q" = "$n" ] || { say "bench: delivery data: $q deliveries queued, $n wanted"; exit 1; }
	if [ "$nr" -gt 1 ]; then
		for ((k = 1; k <= nr; k++)); do
			printf '\n[party.%s]\nname = Bench recipient %d\npush_url = https://127.0.0.1:9/bench/%d\n' \
				"$(bench_oin $k)" "$k" "$k"
		done >>"$d.tmp/schakel.conf"
		sqlite3 "$d.tmp/schakel.db" "UPDATE delivery SET oin = printf('000000010000001%05d',
			1 + (SELECT count(*) FROM delivery x WHERE x.id < delivery.id) % $nr)"
	fi
	sqlite3 "$d.tmp/schakel.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
	touch "$d.tmp/.ready"
	mv "$d.tmp" "$d"
}

# await_port LOG PID: prints PORT once LOG says "listening on 127.0.0.1:PORT"
await_port() {
	local p
	for _ in $(seq 200); do
		p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	say "bench: no 'listening on' in $1:"; cat "$1" >&2
	return 1
}

stop() {	# stop PID: SIGTERM (the daemon drains), and wait
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# start_receiver DIR: a fresh reference receiver storing in DIR; recv_pid, RPORT
start_receiver() {
	rm -rf "$1"
	"$S" receive --dir "$1" --port 0 --cert "$data/pki/server.crt" --key "$data/pki/server.key" \
		--ca "$data/pki/ca.crt" --broker-cert "$data/pki/server.crt" 2>"$work/receive.err" &
	recv_pid=$!
	RPORT=$(await_port "$work/receive.err" "$recv_pid") || exit 1
}

stored() {	# stored DIR: the number of signals a receiver stored
	find "$1" -maxdepth 1 -name '*.xml' | wc -l
}

# deliver_broker: one timed run of the daemon on a fresh copy; sets DT
# (seconds from its start to the last committed outcome) and DFIRST (to the
# first), and keeps the signed bodies of the first run in $work/bodies.
deliver_broker() {
	local dd=$work/dl recv=$work/recv t0 st pending failed last=-1 idle=0
	rm -rf "$dd"
	cp -a "$data/delivery-$deliv_signals-$deliv_recipients" "$dd"
	start_receiver "$recv"
	sed -i "s|^push_url = https://127.0.0.1:[0-9]*/|push_url = https://127.0.0.1:$RPORT/|" "$dd/schakel.conf"
	sync
	t0=$(now)
	"$S" -D "$dd" serve --port 0 2>"$work/serve.err" &
	server_pid=$!
	while :; do
		sleep 0.1
		# a retry or a dead letter spoils the run: stop at the first
		st=$(sqlite3 -cmd '.timeout 5000' -separator ' ' "$dd/schakel.db" \
			"SELECT sum(state = 'pending'), sum(state = 'failed' OR attempts > (state = 'delivered'))
			FROM delivery") || st=
		read -r pending failed <<<"$st"
		[ "$pending" = 0 ] && [ "$failed" = 0 ] && break
		if [ "${failed:-0}" != 0 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			say "bench: delivery: ${failed:-?} failed or retried, or the daemon stopped:"
			tail -5 "$work/serve.err" "$work/receive.err" >&2; exit 1
		fi
		# no progress for 60 s: something is stuck
		if [ "$pending" = "$last" ]; then idle=$((idle + 1)); else idle=0; last=$pending; fi
		[ $idle -lt 600 ] || { say "bench: delivery stalled at $pending pending"; tail -5 "$work/serve.err" >&2; exit 1; }
	done
	DCPU=$(cpu_of "$server_pid"); DRCPU=$(cpu_of "$recv_pid")
	read -r DFIRST DT < <(sqlite3 "$dd/schakel.db" "SELECT
		printf('%.3f', (julianday(min(at)) - 2440587.5) * 86400 - $t0),
		printf('%.3f', (julianday(max(at)) - 2440587.5) * 86400 - $t0)
		FROM exlog WHERE kind = 'delivery'" | tr '|' ' ')
	stop "$server_pid"; server_pid=
	stop "$recv_pid"; recv_pid=
	st=$(sqlite3 "$dd/schakel.db" "SELECT count(*) FROM delivery WHERE state = 'delivered'")
	[ "$st" = "$deliv_signals" ] && [ "$(stored "$recv")" = "$deliv_signals" ] ||
		{ say "bench: delivery: $st delivered, $(stored "$recv") stored, $deliv_signals wanted"; exit 1; }
	if [ ! -d "$work/bodies" ]; then
		mv "$recv" "$work/bodies"
		sqlite3 -separator ' ' "$dd/schakel.db" "SELECT message_id, signal_id,
			'$work/bodies/' || message_id || '.xml' FROM delivery ORDER BY id" >"$work/manifest"
	fi
	rm -rf "$dd" "$recv"
}

# deliver_direct: one timed run of the floor; sets PT, PRES (postgen's JSON),
# PCPU and PRCPU (its and the receiver's CPU seconds)
deliver_direct() {
	local recv=$work/recv
	start_receiver "$recv"
	sync
	PRES=$(/usr/bin/time -f '%U %S' -o "$work/ptime" "$work/postgen" "https://127.0.0.1:$RPORT/bench" \
		"$data/pki/ca.crt" "$data/pki/server.crt" "$data/pki/server.key" "$work/manifest" \
		"$deliv_inflight") ||
		{ say "bench: postgen failed: $PRES"; tail -5 "$work/receive.err" >&2; exit 1; }
	PCPU=$(awk '{ printf "%.2f", $1 + $2 }' "$work/ptime"); PRCPU=$(cpu_of "$recv_pid")
	stop "$recv_pid"; recv_pid=
	[ "$(stored "$recv")" = "$deliv_signals" ] ||
		{ say "bench: direct: $(stored "$recv") stored, $deliv_signals wanted"; exit 1; }
	PT=$(echo "$PRES" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
	rm -rf "$recv"
}

json_delivery='"not run"'
if only delivery; then
	say "bench: 3. delivery, $deliv_signals signals to $deliv_recipients recipient(s), $deliv_inflight in flight, $runs runs each"
	prepare_delivery "$deliv_signals" "$deliv_recipients"
	gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$work/postgen" "$bench/postgen.c" -lcurl
	dload_start=$(cut -d' ' -f1-3 /proc/loadavg)
	bts=(); bfs=(); bcs=(); brcs=(); pts=(); pcs=(); prcs=()
	for ((r = 0; r < runs; r++)); do
		deliver_broker
		bts+=("$DT"); bfs+=("$DFIRST"); bcs+=("$DCPU"); brcs+=("$DRCPU")
		deliver_direct
		pts+=("$PT"); pcs+=("$PCPU"); prcs+=("$PRCPU")
		say "  run $((r + 1)): broker $DT s, CPU $DCPU s (receiver $DRCPU s; first delivery after $DFIRST s), direct $PT s, CPU $PCPU s (receiver $PRCPU s)"
	done
	dload_end=$(cut -d' ' -f1-3 /proc/loadavg)
	med() { printf '%s\n' "$@" | median; }
	bt=$(med "${bts[@]}"); bf=$(med "${bfs[@]}"); bc=$(med "${bcs[@]}"); brc=$(med "${brcs[@]}")
	pt=$(med "${pts[@]}"); pc=$(med "${pcs[@]}"); prc=$(med "${prcs[@]}")
	brate=$(awk -v n="$deliv_signals" -v t="$bt" 'BEGIN { printf "%.1f", n / t }')
	prate=$(awk -v n="$deliv_signals" -v t="$pt" 'BEGIN { printf "%.1f", n / t }')
	q=$(ratio "$brate" "$prate")
	met=$(awk -v q="$q" 'BEGIN { print (q >= 0.8) ? "true" : "false" }')
	# each broker run against the floor run just after it: steadier under drifting load
	pairs=(); for ((r = 0; r < runs; r++)); do pairs+=("$(ratio "${pts[r]}" "${bts[r]}")"); done
	pq=$(med "${pairs[@]}")
	pget() { echo "$PRES" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
	pconn=$(pget connections)
	json_delivery="{\"signals\":$deliv_signals,\"recipients\":$deliv_recipients,\"pair_ratios\":[$(IFS=,; echo "${pairs[*]}")],\"pair_ratio_median\":$pq,\"in_flight\":$deliv_inflight,\"loadavg_start\":\"$dload_start\",\"loadavg_end\":\"$dload_end\",\"broker\":{\"seconds\":$bt,\"cpu_seconds\":$bc,\"receiver_cpu_seconds\":$brc,\"signals_per_s\":$brate,\"first_delivery_seconds\":$bf,\"runs\":[$(IFS=,; echo "${bts[*]}")],\"cpu_runs\":[$(IFS=,; echo "${bcs[*]}")],\"first_delivery_runs\":[$(IFS=,; echo "${bfs[*]}")]},\"direct\":{\"seconds\":$pt,\"cpu_seconds\":$pc,\"receiver_cpu_seconds\":$prc,\"signals_per_s\":$prate,\"connections\":$pconn,\"runs\":[$(IFS=,; echo "${pts[*]}")],\"cpu_runs\":[$(IFS=,; echo "${pcs[*]}")],\"last_run\":$PRES},\"ratio\":$q,\"cpu_ratio\":$(ratio "$bc" "$pc"),\"goal\":0.8,\"met\":$met}"
	row "delivery $deliv_signals signed signals, $deliv_recipients recipient(s)" \
		"$(fmt "$bt" 2) s, $brate signals/s, CPU $(fmt "$bc" 2) s (receiver $(fmt "$brc" 2) s; first delivery after $(fmt "$bf" 2) s)"
	row "  unsigned direct POSTs, libcurl (floor)" \
		"$(fmt "$pt" 2) s, $prate signals/s, CPU $(fmt "$pc" 2) s (receiver $(fmt "$prc" 2) s), p50 $(pget p50_ms) ms, p99 $(pget p99_ms) ms, $pconn connection(s)"
	row "  ratio broker/direct (goal >= 0.8)" "${q}x $([ "$met" = true ] && echo met || echo NOT met) ($deliv_inflight in flight; run by run ${pairs[*]}, median ${pq}x; CPU $(ratio "$bc" "$pc")x; load $dload_start -> $dload_end)"
fi

# ---------------------------------------------------------------- 4 upload API
# cpu_of PID: the user+sys CPU seconds of process PID so far.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
# start_serve DIR BINARY: schakel serve on DIR with BINARY; server_pid, port, aport.
start_serve() {
	: >"$work/serve.err"	# there before the daemon's shell opens it
	"$2" -D "$1" serve --port 0 2>"$work/serve.err" &
	server_pid=$!
	port=; aport=
	for _ in $(seq 200); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.err")
		aport=$(sed -n 's|.*operator page on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/serve.err")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { say "bench: schakel serve did not start:"; cat "$work/serve.err" >&2; exit 1; }
}
stop_serve() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
# The baseline binary (BENCH_BASELINE, a build of the commit before the
# worker threads, say) runs the same clients in the same run.
baseline=${BENCH_BASELINE:-}
[ -z "$baseline" ] || [ -x "$baseline" ] || { say "bench: BENCH_BASELINE $baseline is not executable"; exit 1; }
# upload_server LABEL BINARY [WORKERS]: a daemon for the upload API
# section; its pid and URL in UP_PID[LABEL], UP_URL[LABEL], its data
# directory in UP_DIR[LABEL].
upload_server() {
	local label=$1 bin=$2 workers=${3:-} sd=$work/serve-$1
	mkdir -m 700 "$sd"
	{
		echo "[server]"
		echo "max_connections_per_party = 16"
		echo "request_timeout = 60"
		[ -z "$workers" ] || echo "workers = $workers"
		for o in $oins; do
			printf '[party.%s]\nname = Gemeente %s\ngemeenten = 1783\nsupplies = brp\nreceives = all\n' "$o" "${o: -2}"
		done
	} >"$sd/schakel.conf"
	chmod 600 "$sd/schakel.conf"
	cp -a "$data/pki" "$sd/certs"
	SCHAKEL_ADAPTER_DIR=$(dirname "$bin")/adapters "$bin" -D "$sd" init >/dev/null
	SCHAKEL_ADAPTER_DIR=$(dirname "$bin")/adapters start_serve "$sd" "$bin"
	UP_PID[$label]=$server_pid
	extra_pids+=" $server_pid"
	UP_URL[$label]=https://127.0.0.1:$port/v1/uploads/brp
	UP_DIR[$label]=$sd
	server_pid=
	# the first upload stores the 20 persons and matches; the timed ones change nothing
	"$work/loadgen" "${UP_URL[$label]}" "$data/upload-20.xml" "$sd/certs/ca.crt" 1 5 10 \
		"$sd/certs/party-${oins%% *}.crt:$sd/certs/party-${oins%% *}.key" >/dev/null
}
# upload_load LABEL CLIENTS: one loadgen run; its JSON in UP_RES, the
# server's CPU seconds in UP_CPU.
upload_load() {
	local sd=${UP_DIR[$1]} cpu0 cpu1 o certs=()
	for o in $oins; do certs+=("$sd/certs/party-$o.crt:$sd/certs/party-$o.key"); done
	cpu0=$(cpu_of "${UP_PID[$1]}")
	UP_RES=$("$work/loadgen" "${UP_URL[$1]}" "$data/upload-20.xml" "$sd/certs/ca.crt" "$2" "$up_requests" "$up_seconds" "${certs[@]}") ||
		say "bench: loadgen reported errors at $2 clients ($1): $UP_RES"
	cpu1=$(cpu_of "${UP_PID[$1]}")
	UP_CPU=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
}
if only upload; then
	say "bench: 4. upload API, $runs runs, the daemons alternating"
	gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$work/loadgen" "$bench/loadgen.c" -lcurl
	# TLS session resumption is off, as in the first measurements (then the
	# server refused it for want of a session id context; fixed since).
	# Each client keeps one connection anyway.  BENCH_RESUME=1 turns it on.
	export LOADGEN_RESUME=${BENCH_RESUME:-0}
	declare -A UP_PID UP_URL UP_DIR UP_RPS UP_RUNS UP_CPUS UP_LAST
	labels=()
	[ -z "$baseline" ] || { upload_server baseline "$baseline"; labels+=(baseline); }
	upload_server "workers=1" "$S" 1; labels+=("workers=1")
	upload_server workers "$S"; labels+=(workers)
	for ((r = 0; r < runs; r++)); do
		for c in 1 10 50; do
			for l in "${labels[@]}"; do
				upload_load "$l" "$c"
				rps=$(echo "$UP_RES" | sed -n 's/.*"rps":\([0-9.]*\).*/\1/p')
				UP_RUNS[$l-$c]+="${UP_RUNS[$l-$c]:+ }$rps"
				UP_CPUS[$l-$c]+="${UP_CPUS[$l-$c]:+ }$UP_CPU"
				UP_LAST[$l-$c]=$UP_RES
			done
		done
	done
	for l in "${labels[@]}"; do
		for c in 1 10 50; do
			res=${UP_LAST[$l-$c]}
			get() { echo "$res" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
			rps=$(printf '%s\n' ${UP_RUNS[$l-$c]} | median)
			cpu=$(printf '%s\n' ${UP_CPUS[$l-$c]} | median)
			UP_RPS[$l-$c]=$rps
			cpu_ms=$(awk -v c="$cpu" -v n="$(get requests)" 'BEGIN { printf "%.2f", (n > 0) ? c * 1000 / n : 0 }')
			jadd json_upload "{\"binary\":\"$l\",\"clients\":$c,\"rps_median\":$rps,\"rps_runs\":[${UP_RUNS[$l-$c]// /,}],\"server_cpu_seconds_median\":$cpu,\"server_cpu_runs\":[${UP_CPUS[$l-$c]// /,}],\"last_run\":$res}"
			row "upload 20-person brp, $c client(s), $l" \
				"$rps req/s (runs: ${UP_RUNS[$l-$c]}), last run p50 $(get p50_ms) ms, p99 $(get p99_ms) ms, $(fmt "$(get seconds)" 1) s wall; server CPU $cpu s = $cpu_ms ms/req ($(get errors) errors, $(get non_200) non-200)"
		done
	done
	if [ -n "$baseline" ]; then
		for c in 1 10 50; do
			row "  ratio at $c client(s), workers/baseline" "$(ratio "${UP_RPS[workers-$c]}" "${UP_RPS[baseline-$c]}")x$([ "$c" = 50 ] && echo " (goal >= 2)")"
		done
	fi
	for l in "${labels[@]}"; do
		kill "${UP_PID[$l]}"; wait "${UP_PID[$l]}" 2>/dev/null || true
	done
fi

# ---------------------------------------------------------------- 7 stall
# /healthz and a small inbox read, sampled every 50 ms (bench/stall.c)
# while one large brp upload is stored and its match runs.
stall_run() {	# stall_run LABEL BINARY: sets json_stall entries and rows
	local label=$1 bin=$2 sd=$work/stall-$1 o=00000001000000000011 t0 t1 t2 cpu0 cpu1 res
	mkdir -m 700 "$sd"
	{
		match_conf
		printf '[server]\nmax_body_bytes = 4G\nrequest_timeout = 600\nmin_body_rate = 0\n'
		printf '[admin]\nport = 0\n'
		printf '[party.%s]\nname = Landelijke BRP\nsupplies = brp\nreceives = all\n' "$o"
	} >"$sd/schakel.conf"
	chmod 600 "$sd/schakel.conf"
	cp -a "$data/pki" "$sd/certs"
	export SCHAKEL_ADAPTER_DIR=$(dirname "$bin")/adapters
	"$bin" -D "$sd" init >/dev/null
	"$bin" -D "$sd" ingest huisvesting "$data/match-huisvesting-$stall_n.csv" >/dev/null
	"$bin" -D "$sd" ingest inspectie "$data/match-inspectie-$stall_n.json" >/dev/null
	# signals in the inbox before the upload (the findings' addresses)
	"$bin" -D "$sd" match >/dev/null
	local last
	last=$(sqlite3 "$sd/schakel.db" "SELECT coalesce(max(seq), 0) + 1000000000 FROM signal")
	start_serve "$sd" "$bin"
	rm -f "$work/stop"
	"$work/stall" "http://127.0.0.1:$aport/healthz" \
		"https://127.0.0.1:$port/v1/signals?after=$last&limit=10" \
		"https://127.0.0.1:$port/v1/signals?limit=10" \
		"$sd/certs/ca.crt" "$sd/certs/party-$o.crt:$sd/certs/party-$o.key" "$work/stop" >"$work/stall.out" &
	local spid=$!
	sleep 1	# a few samples of the idle daemon
	cpu0=$(cpu_of "$server_pid")
	t0=$(now)
	curl -sS -o "$work/upload.out" --max-time 3600 --cacert "$sd/certs/ca.crt" \
		--cert "$sd/certs/party-$o.crt" --key "$sd/certs/party-$o.key" \
		--data-binary "@$data/match-brp-$stall_n.xml" "https://127.0.0.1:$port/v1/uploads/brp" ||
		{ say "bench: the stall upload failed; the daemon said:"; tail -5 "$work/serve.err" >&2; exit 1; }
	t1=$(now)
	for _ in $(seq 36000); do
		grep -q 'subsys=match' "$work/serve.err" && break
		sleep 0.1
	done
	t2=$(now)
	cpu1=$(cpu_of "$server_pid")
	sleep 0.5
	touch "$work/stop"
	wait "$spid"
	stop_serve
	unset SCHAKEL_ADAPTER_DIR
	res=$(cat "$work/stall.out")
	local up m cpu
	up=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	m=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
	cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
	jadd json_stall "{\"binary\":\"$label\",\"persons\":$stall_n,\"upload_seconds\":$up,\"match_seconds_after\":$m,\"server_cpu_seconds\":$cpu,\"samples\":$res}"
	sget() { echo "$res" | sed -n "s/.*\"$1\":{[^}]*\"$2\":\([0-9.]*\).*/\1/p"; }
	row "stall: $stall_n-person upload + match, $label" "upload $up s, then match $m s; server CPU $cpu s"
	row "  /healthz every 50 ms" "p50 $(sget healthz p50_ms) ms, p99 $(sget healthz p99_ms) ms, max $(sget healthz max_ms) ms ($(sget healthz samples) samples, $(sget healthz failed) failed; goal p99 <= 50, max <= 200)"
	row "  inbox read, nothing new, every 50 ms" "p50 $(sget inbox p50_ms) ms, p99 $(sget inbox p99_ms) ms, max $(sget inbox max_ms) ms ($(sget inbox samples) samples, $(sget inbox failed) failed)"
	row "  inbox page of 10 signals every 50 ms" "p50 $(sget inbox_page p50_ms) ms, p99 $(sget inbox_page p99_ms) ms, max $(sget inbox_page max_ms) ms ($(sget inbox_page samples) samples, $(sget inbox_page failed) failed; its disclosures are logged first)"
}
json_stall=""
if only stall; then
	say "bench: 7. stall ($stall_n persons)"
	gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -I"$bench" -o "$work/stall" "$bench/stall.c" -lcurl -pthread
	[ -f "$data/pki/ca.crt" ] || "$root/certs/mkcerts.sh" "$data/pki" $oins >/dev/null
	[ -z "$baseline" ] || stall_run baseline "$baseline"
	stall_run workers "$S"
fi

# ---------------------------------------------------------------- 4b ldv
# The processing records (Logboek Dataverwerkingen, docs/formats.md): an
# ingest of ldv_n brp registrations on a fresh directory and a first match
# of the match data of ldv_n registrations, with [ldv] enabled = true (the
# default: one record per input, per match and per signal, their data
# subjects one row per batch of up to 256)
# and false, runs alternating.  Wall time and CPU (user + sys).
if only ldv; then
	say "bench: 4b. processing records on and off, $ldv_n records, $runs runs each"
	# cpu_timed CMD...: timed, and C = user + sys seconds
	cpu_timed() {
		local t0 t1
		t0=$(now)
		/usr/bin/time -f '%U %S' -o "$work/cpu" "$@" >"$work/out" 2>"$work/err" || {
			local rc=$?
			[ $rc -eq 3 ] || { say "bench: failed ($rc): $*"; cat "$work/err" >&2; exit 1; }
		}
		t1=$(now)
		T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
		C=$(tail -1 "$work/cpu" | awk '{ printf "%.2f", $1 + $2 }')
	}
	ldv_off() {	# ldv_off DIR: [ldv] enabled = false in DIR's schakel.conf
		if grep -q '^\[ldv\]' "$1/schakel.conf"; then
			sed -i '/^\[ldv\]/,/^\[/ s/^enabled = .*/enabled = false/' "$1/schakel.conf"
		else
			printf '\n[ldv]\nenabled = false\n' >>"$1/schakel.conf"
		fi
	}
	declare -A LW LC
	for what in ingest match; do
		for mode in on off; do LW[$what-$mode]=""; LC[$what-$mode]=""; done
	done
	for ((r = 0; r < runs; r++)); do
		for mode in on off; do
			rm -rf "$work/d"
			"$S" -D "$work/d" init >/dev/null
			[ $mode = off ] && ldv_off "$work/d"
			sync
			cpu_timed "$S" -D "$work/d" ingest brp "$data/brp-$ldv_n.xml"
			LW[ingest-$mode]+="$T "; LC[ingest-$mode]+="$C "
			rm -rf "$work/d"
			cp -a "$data/match-$ldv_n" "$work/d"
			[ $mode = off ] && ldv_off "$work/d"
			sync
			cpu_timed "$S" -D "$work/d" match --as-of "$asof"
			LW[match-$mode]+="$T "; LC[match-$mode]+="$C "
			[ $mode = on ] && LSPANS=$(sqlite3 "$work/d/schakel.db" "SELECT count(*) || ' records with ' || sum(subjects) || ' data subjects' FROM ldv_span WHERE name IN ('schakel.match', 'schakel.signal')")
		done
	done
	rm -rf "$work/d"
	json_ldv="{\"records\":$ldv_n"
	for what in ingest match; do
		med() { printf '%s\n' ${1} | median; }
		won=$(med "${LW[$what-on]}"); woff=$(med "${LW[$what-off]}")
		con=$(med "${LC[$what-on]}"); coff=$(med "${LC[$what-off]}")
		pw=$(awk -v a="$won" -v b="$woff" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
		pc=$(awk -v a="$con" -v b="$coff" 'BEGIN { printf "%.1f", (b > 0) ? (a / b - 1) * 100 : 0 }')
		met=$(awk -v p="$pw" -v q="$pc" 'BEGIN { print (p <= 10 && q <= 10) ? "true" : "false" }')
		row "$what $ldv_n, processing records on/off" "wall $(fmt "$won" 2) / $(fmt "$woff" 2) s (${pw} %), CPU $(fmt "$con" 2) / $(fmt "$coff" 2) s (${pc} %)"
		json_ldv+=",\"$what\":{\"on\":{\"seconds\":$won,\"cpu_seconds\":$con,\"runs\":[$(echo ${LW[$what-on]} | tr ' ' ',')]},\"off\":{\"seconds\":$woff,\"cpu_seconds\":$coff,\"runs\":[$(echo ${LW[$what-off]} | tr ' ' ',')]},\"wall_percent\":$pw,\"cpu_percent\":$pc,\"goal_percent\":10,\"met\":$met}"
	done
	row "  (goal: at most 10 % slower with them on)" "the match wrote $LSPANS"
	json_ldv+="}"
fi

# ---------------------------------------------------------------- 6 latency
# From a 100-person upload's request to its signals readable in the inbox,
# in an installation of the match data ($match_main registrations), as
# parties that keep their connections see it (bench/latency.c: the
# uploader's and the reader's HTTPS connections made before the clock
# starts, the inbox polled on its kept connection until a signal of the
# upload's trace is on it).  One inbox read by a new curl process (a new TLS
# handshake) is reported beside it.
if only latency; then
	n=$match_main; W=00000001000000001783
	say "bench: 6. signal latency after a 100-person upload ($n registrations), $runs runs"
	gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -I"$bench" -o "$work/latency" "$bench/latency.c" -lcurl -ljansson
	ld=$work/lat
	rm -rf "$ld"
	cp -a "$data/match-$n" "$ld"
	cp -a "$data/pki-match" "$ld/certs"
	# as of today, as the daemon matches (MATCH_CHANGED; no match before, so a
	# full run, which also brings person_at up to date: store-014.sql)
	timed "$S" -D "$ld" match --changed
	lat_full=$T; lat_full_cpu=$CPU
	"$S" -D "$ld" serve --port 0 2>"$work/lat.err" &
	server_pid=$!
	port=$(await_port "$work/lat.err" "$server_pid") || exit 1
	tls=(--cacert "$ld/certs/ca.crt" --cert "$ld/certs/party-$W.crt" --key "$ld/certs/party-$W.key")
	lats=(); ups=(); reads=(); cold=(); raised=(); polls=()
	for ((r = 0; r < runs; r++)); do
		"$bench/gen-latency-brp.sh" "$n" "$r" >"$work/lat-$r.xml"
		trace=$(printf '4bf92f3577b34da6a3ce929d0e0e%04x' $((r + 1)))
		after=$(sqlite3 "$ld/schakel.db" "SELECT coalesce(max(seq), 0) FROM signal")
		res=$("$work/latency" "https://127.0.0.1:$port" "$ld/certs/ca.crt" "$ld/certs/party-$W.crt" \
			"$ld/certs/party-$W.key" "$work/lat-$r.xml" "$trace" "$after") ||
			{ say "bench: the latency run failed"; exit 1; }
		lats+=("$(jq -r .seconds <<<"$res")")
		ups+=("$(jq -r .upload_seconds <<<"$res")")
		reads+=("$(jq -r .read_seconds <<<"$res")")
		polls+=("$(jq -r .polls <<<"$res")")
		t3=$(now)
		curl -sS --max-time 30 "${tls[@]}" -o /dev/null "https://127.0.0.1:$port/v1/signals?after=$after&limit=1000"
		t4=$(now)
		cold+=("$(awk -v a="$t3" -v b="$t4" 'BEGIN { printf "%.4f", b - a }')")
		raised+=("$(sqlite3 "$ld/schakel.db" "SELECT count(*) FROM signal WHERE trace_id = '$trace'")")
	done
	stop "$server_pid"; server_pid=
	lat=$(printf '%s\n' "${lats[@]}" | median); up=$(printf '%s\n' "${ups[@]}" | median)
	rd=$(printf '%s\n' "${reads[@]}" | median); rdc=$(printf '%s\n' "${cold[@]}" | median)
	ms() { awk -v t="$1" 'BEGIN { printf "%.0f", t * 1000 }'; }
	row "signal latency, 100-person upload into $n reg" "$(ms "$lat") ms request to inbox, connections kept (goal <= 100 ms: $(awk -v t="$lat" 'BEGIN { print (t <= 0.1) ? "met" : "NOT met" }')); signals raised per upload: ${raised[*]}; polls: ${polls[*]}"
	row "  of which the upload's answer" "$(ms "$up") ms; one inbox read alone $(ms "$rd") ms kept, $(ms "$rdc") ms by a new curl (TLS handshake)"
	row "  a full match of the installation (before)" "$(fmt "$lat_full" 2) s wall, $(fmt "$lat_full_cpu" 2) s CPU: $(ratio "$lat_full" "$lat")x the latency"
	json_latency="{\"registrations\":$n,\"seconds\":$lat,\"runs\":[$(IFS=,; echo "${lats[*]}")],\"upload_seconds\":$up,\"inbox_read_seconds\":$rd,\"inbox_read_new_connection_seconds\":$rdc,\"signals\":[$(IFS=,; echo "${raised[*]}")],\"full_match_seconds\":$lat_full,\"full_match_cpu_seconds\":$lat_full_cpu,\"goal\":0.1,\"met\":$(awk -v t="$lat" 'BEGIN { print (t <= 0.1) ? "true" : "false" }')}"
fi

# ---------------------------------------------------------------- 8 PostgreSQL
# BENCH_STORE=postgresql: the ingest (brp, gen-brp.sh) and the match (the
# match data, first and second run) on [store] backend = postgresql, on a
# throw-away PostgreSQL 15 cluster (tests/pg/cluster.sh: initdb and pg_ctl
# in a temporary directory, 127.0.0.1; fsync turned back on, as a server's
# would be), beside SQLite on the same input, runs alternating.  Each run
# has a fresh database (the match: a copy of a prepared one, CREATE
# DATABASE ... TEMPLATE) and a fresh data directory.  CPU is user + sys:
# schakel's from /usr/bin/time, the server's from /proc: the postmaster's
# own and its reaped children's times (fields 14-17 of
# /proc/PID/stat) plus the live children's (14-15), before the run and
# after it once the run's backend has exited and been reaped; so the
# backend that served schakel, autovacuum and the WAL and checkpoint
# processes are all counted.
json_pg='"not run"'
if [ "$store" = postgresql ] && { only ingest || only match || only delivery; }; then
	say "bench: 8. PostgreSQL beside SQLite, $runs runs each"
	# shellcheck source=../tests/pg/cluster.sh
	. "$root/tests/pg/cluster.sh"
	pg_start trust >/dev/null
	pg_sql postgres -c "ALTER SYSTEM SET fsync = on" -c "SELECT pg_reload_conf()" >/dev/null
	pg_pm=$(head -1 "$PG_DIR/data/postmaster.pid")
	pg_kids() { cat /proc/"$pg_pm"/task/*/children | wc -w; }
	pg_aux=$(pg_kids)
	pg_ticks() {	# the server's CPU so far, in clock ticks
		{
			awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pg_pm/stat"
			for c_ in $(cat /proc/"$pg_pm"/task/*/children); do
				awk '{ print $14 + $15 }' "/proc/$c_/stat" 2>/dev/null || true
			done
		} | awk '{ s += $1 } END { print s }'
	}
	pg_timed() {	# pg_timed CMD...: timed, and SCPU (the server's CPU seconds)
		local c0 c1
		c0=$(pg_ticks)
		timed "$@"
		for _ in $(seq 100); do	# until the run's backend has been reaped
			[ "$(pg_kids)" -le "$pg_aux" ] && break
			sleep 0.05
		done
		c1=$(pg_ticks)
		SCPU=$(awk -v a="$c0" -v b="$c1" -v t="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / t }')
	}
	pg_dir() {	# pg_dir DIR DB: DIR (its schakel.conf made if missing) on database DB
		mkdir -p -m 700 "$1"
		[ -f "$1/schakel.conf" ] || : >"$1/schakel.conf"
		sed -i '/^\[store\]$/,$d' "$1/schakel.conf"
		printf '[store]\nbackend = postgresql\ndsn = %s\n' "$(pg_createdb "$2")" >>"$1/schakel.conf"
	}
	pg_drop() { pg_sql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null; }
	unsupported() {	# unsupported CMD...: what schakel says if CMD is not supported on PostgreSQL
		timeout 10 "$@" 2>&1 | grep -m1 'not yet supported with backend = postgresql' || true
	}
	json_pg_ingest=""; json_pg_match=""; json_pg_delivery='"not run"'
	if only ingest; then
		set -- $ingest_sizes
		[ $# -ge 2 ] && pg_sizes="${@: -2:1} ${!#}" || pg_sizes=$1
		for n in $pg_sizes; do
			ts=(); cs=(); ps=(); pcs=(); pss=()
			for ((r = 0; r < runs; r++)); do
				rm -rf "$work/d" "$work/p"
				"$S" -D "$work/d" init >/dev/null
				sync
				timed "$S" -D "$work/d" ingest brp "$data/brp-$n.xml"
				grep -q "$n accepted" "$work/out" || { say "bench: unexpected: $(cat "$work/out")"; exit 1; }
				ts+=("$T"); cs+=("$CPU")
				rm -rf "$work/d"
				pg_drop bench_ingest
				pg_dir "$work/p" bench_ingest
				"$S" -D "$work/p" init >/dev/null
				sync
				pg_timed "$S" -D "$work/p" ingest brp "$data/brp-$n.xml"
				grep -q "$n accepted ($n new" "$work/out" || { say "bench: unexpected: $(cat "$work/out")"; exit 1; }
				ps+=("$T"); pcs+=("$CPU"); pss+=("$SCPU")
			done
			rm -rf "$work/p"
			pg_drop bench_ingest
			st=$(printf '%s\n' "${ts[@]}" | median); sc=$(printf '%s\n' "${cs[@]}" | median)
			pt=$(printf '%s\n' "${ps[@]}" | median); pc=$(printf '%s\n' "${pcs[@]}" | median)
			psc=$(printf '%s\n' "${pss[@]}" | median)
			ptot=$(awk -v a="$pc" -v b="$psc" 'BEGIN { printf "%.2f", a + b }')
			q=$(ratio "$pt" "$st"); qc=$(ratio "$ptot" "$sc")
			row "ingest brp $n, PostgreSQL" "$(fmt "$pt" 2) s wall, CPU schakel $(fmt "$pc" 2) s + server $(fmt "$psc" 2) s = $ptot s"
			row "  the same on SQLite" "$(fmt "$st" 2) s wall, CPU $(fmt "$sc" 2) s"
			row "  ratio PostgreSQL/SQLite (goal <= 2)" "wall ${q}x $(verdict "$q" 2), CPU (with the server's) ${qc}x"
			jadd json_pg_ingest "{\"records\":$n,\"postgresql\":{\"seconds\":$pt,\"cpu_seconds\":$pc,\"server_cpu_seconds\":$psc,\"runs\":[$(IFS=,; echo "${ps[*]}")],\"server_cpu_runs\":[$(IFS=,; echo "${pss[*]}")]},\"sqlite\":{\"seconds\":$st,\"cpu_seconds\":$sc,\"runs\":[$(IFS=,; echo "${ts[*]}")]},\"ratio\":$q,\"ratio_cpu\":$qc,\"goal\":2,\"met\":$([ "$(verdict "$q" 2)" = met ] && echo true || echo false)}"
		done
	fi
	if only match || only delivery; then
		# what schakel does not do on PostgreSQL yet is skipped, saying so
		pg_dir "$work/probe" bench_probe
		"$S" -D "$work/probe" init >/dev/null
		pg_no_match=$(unsupported "$S" -D "$work/probe" match --as-of "$asof")
		pg_no_serve=$(unsupported "$S" -D "$work/probe" serve --port 0)
		rm -rf "$work/probe"
		pg_drop bench_probe
	fi
	if only match && [ -n "$pg_no_match" ]; then
		row "match on PostgreSQL" "skipped: $pg_no_match"
		json_pg_match="{\"skipped\":\"$pg_no_match\"}"
	elif only match; then
		n=$match_main
		say "  preparing the PostgreSQL match database for $n registrations"
		pg_drop bench_match
		rm -rf "$work/pm"
		mkdir -m 700 "$work/pm"
		match_conf >"$work/pm/schakel.conf"
		pg_dir "$work/pm" bench_match
		"$S" -D "$work/pm" init >/dev/null
		for src in "brp match-brp-$n.xml" "huisvesting match-huisvesting-$n.csv" "inspectie match-inspectie-$n.json"; do
			set -- $src
			"$S" -D "$work/pm" ingest "$1" "$data/$2" >/dev/null || [ $? -eq 3 ]
		done
		pg_sql bench_match -c "VACUUM ANALYZE" >/dev/null
		m1=(); m2=(); mc1=(); ms1=(); s1=(); s2=(); sc1=()
		for ((r = 0; r < runs; r++)); do
			rm -rf "$work/m"
			cp -a "$data/match-$n" "$work/m"
			sync
			timed "$S" -D "$work/m" match --as-of "$asof"; s1+=("$T"); sc1+=("$CPU")
			SOUT=$(cat "$work/out")
			timed "$S" -D "$work/m" match --as-of "$asof"; s2+=("$T")
			rm -rf "$work/m"
			pg_drop bench_match_run
			pg_sql postgres -c "CREATE DATABASE bench_match_run TEMPLATE bench_match" >/dev/null
			cp -a "$work/pm" "$work/m"
			sed -i "s|dbname=bench_match |dbname=bench_match_run |" "$work/m/schakel.conf"
			sync
			pg_timed "$S" -D "$work/m" match --as-of "$asof"; m1+=("$T"); mc1+=("$CPU"); ms1+=("$SCPU")
			POUT=$(cat "$work/out")
			pg_timed "$S" -D "$work/m" match --as-of "$asof"; m2+=("$T")
		done
		rm -rf "$work/m"
		pg_drop bench_match_run
		med() { printf '%s\n' "$@" | median; }
		pm1=$(med "${m1[@]}"); pm2=$(med "${m2[@]}"); pmc=$(med "${mc1[@]}"); pms=$(med "${ms1[@]}")
		sm1=$(med "${s1[@]}"); sm2=$(med "${s2[@]}"); smc=$(med "${sc1[@]}")
		[ "$(echo "$POUT" | sed 's/ in [0-9.]* s//')" = "$(echo "$SOUT" | sed 's/ in [0-9.]* s//')" ] ||
			say "bench: WARNING: the match said on PostgreSQL [$POUT], on SQLite [$SOUT]"
		q=$(ratio "$pm1" "$sm1"); q2=$(ratio "$pm2" "$sm2")
		row "match $n reg, PostgreSQL" "$(fmt "$pm1" 2) s first run (CPU schakel $(fmt "$pmc" 2) s + server $(fmt "$pms" 2) s), $(fmt "$pm2" 2) s second run"
		row "  the same on SQLite" "$(fmt "$sm1" 2) s first run (CPU $(fmt "$smc" 2) s), $(fmt "$sm2" 2) s second run"
		row "  ratio PostgreSQL/SQLite (goal <= 2)" "first run ${q}x $(verdict "$q" 2), second run ${q2}x $(verdict "$q2" 2)"
		json_pg_match="{\"registrations\":$n,\"postgresql\":{\"first_run\":$pm1,\"second_run\":$pm2,\"cpu_seconds\":$pmc,\"server_cpu_seconds\":$pms},\"sqlite\":{\"first_run\":$sm1,\"second_run\":$sm2,\"cpu_seconds\":$smc},\"ratio\":$q,\"ratio_second_run\":$q2,\"goal\":2}"
		pg_drop bench_match
		rm -rf "$work/pm"
	fi
	if only delivery; then
		# one and two nodes need the outbox on PostgreSQL (`serve`), and a
		# match there to fill it
		why=${pg_no_serve:-$pg_no_match}	# serve first: without it no node runs
		[ -n "$why" ] || why="no delivery run on PostgreSQL in this script yet"
		row "delivery on PostgreSQL, one and two nodes" "skipped: $why"
		json_pg_delivery="{\"skipped\":\"$why\"}"
	fi
	json_pg="{\"server\":\"$("$PG_BIN/postgres" --version)\",\"fsync\":true,\"ingest\":[$json_pg_ingest],\"match\":${json_pg_match:-null},\"delivery\":$json_pg_delivery}"
	pg_stop
fi

# ---------------------------------------------------------------- 5 scaling
if only ingest && only match; then
	say "bench: 5. scaling"
	prev_i=; prev_m=; prev_n=
	for n in $match_sizes; do
		ti=${ING_T[$n]:-}; tm=${M_T[$n]}
		pi=$(awk -v t="$ti" -v n="$n" 'BEGIN { printf "%.2f", t * 1e6 / n }')
		pm=$(awk -v t="$tm" -v n="$n" 'BEGIN { printf "%.2f", t * 1e6 / n }')
		gi=null; gm=null
		if [ -n "$prev_n" ]; then
			gi=$(ratio "$ti" "$prev_i"); gm=$(ratio "$tm" "$prev_m")
		fi
		row "scaling n=$n" "ingest $(fmt "$ti" 2) s ($pi us/rec$([ "$gi" != null ] && echo ", x$gi for x10")), match $(fmt "$tm" 2) s ($pm us/reg$([ "$gm" != null ] && echo ", x$gm for x10"))"
		jadd json_scaling "{\"n\":$n,\"ingest_seconds\":$ti,\"ingest_us_per_record\":$pi,\"ingest_growth_x10\":$gi,\"match_seconds\":$tm,\"match_us_per_registration\":$pm,\"match_growth_x10\":$gm}"
		prev_n=$n; prev_i=$ti; prev_m=$tm
	done
fi

# ---------------------------------------------------------------- report
stamp=$(date -u +%Y%m%dT%H%M%SZ)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo true || echo false)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
json="{\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"commit\":\"$commit\",\"binary\":\"$S\",\"dirty\":$dirty,\"quick\":$([ "$quick" = 1 ] && echo true || echo false),\"runs\":$runs,\"machine\":{\"nproc\":$(nproc),\"cpu\":\"$cpu\",\"memory\":\"$mem\",\"sqlite\":\"$(sqlite3 --version | cut -d' ' -f1)\",\"loadavg_start\":\"$load_start\",\"loadavg_end\":\"$load_end\"},\"ingest\":[$json_ingest],\"match\":[$json_match],\"delivery\":$json_delivery,\"upload\":[$json_upload],\"stall\":[$json_stall],\"scaling\":[$json_scaling],\"latency\":${json_latency:-null},\"ldv\":$json_ldv,\"store\":\"$store\",\"postgresql\":$json_pg}"
echo "$json" >"$results/$stamp.json"
cp "$results/$stamp.json" "$results/latest.json"

echo
echo "load average at start $load_start, at end $load_end (other work on the machine skews the figures)"
echo "schakel benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), commit $commit$([ "$dirty" = true ] && echo ' (with local changes)')$([ -n "${BENCH_SCHAKEL:-}" ] && echo ", binary $S"), $(nproc) x $cpu, $mem; medians of $runs runs"
echo
printf '%s' "$table"
echo
echo "results: bench/results/$stamp.json (and latest.json)"
