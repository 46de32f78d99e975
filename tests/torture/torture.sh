#!/bin/bash
# Allocation torture (as curl's torture mode): `schakel ingest` of each of
# the three fixtures, with the Nth allocation of the process made to fail
# (tests/tools/failmalloc.c, an LD_PRELOAD shim), for N = 1, 2, 3, ... until
# a run passes the last allocation without a failure.  Each run works on a
# fresh copy of an initialised data directory and must:
#   - not crash: no exit by a signal, no exit code >= 128, no hang (30 s);
#   - exit 0, 1 or 3 only, and when it exits 1 say why (stderr, or stdout's
#     "refused" line);
#   - not call the failure the input's: no "refused" (the fixtures are
#     good input), and no rejection a run without the failure does not
#     make (which shows as a row missing: exit 3 with fewer rows stored);
#   - leave either nothing of the file or all of it (one transaction);
#   - leave a log that `schakel log verify` accepts.
# Every run records the stack of its failing allocation (the shim's
# FAILMALLOC_BACKTRACE).  A crash whose failing allocation lies inside a
# known bug of a library (tests/torture/known-crashes.txt: libxml2 2.9.14
# compiling a schema, ...) is listed as known and does not fail the sweep;
# any other crash does, with the stack of its failing allocation.
# A sample of N values is then run under valgrind (the shim and memcheck
# combine with --soname-synonyms=somalloc=nouserintercepts) and must show
# no memory error and no definite leak.
#
# Which N: every N up to 300, then every 7th up to 3,000, then every 61st
# to the end (about 2,600 runs in all, ~1.5 min on 2 cores);
# TORTURE_FULL=1 steps by 7 to the end (~6,700 runs), TORTURE_STEP=K by K
# after 300.  TORTURE_VALGRIND=N sets the sample size (default 20, 0: none).
# A crashing N is kept in tests/torture/regressions.txt (ADAPTER N) and run
# first on every later run.  The count is not exactly reproducible (a few
# allocations differ from run to run: paths, hash seeds), so a regression N
# hits the same place only approximately; the sweep is what finds crashes.
. "$(dirname "$0")/../e2e/lib.sh"

fail() {	# ends the test at once (lib.sh's fail only returns 1)
	echo "# $*"
	exit 1
}

MISSING=
for tool in gcc sqlite3; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
if [ -n "$MISSING" ]; then
	echo "1..0 # SKIP missing:$MISSING"
	exit 0
fi
if [ -n "${SCHAKEL_SANITIZED:-}" ]; then
	# ASan's allocator and an LD_PRELOAD malloc do not mix.
	echo "ok 1 - torture # SKIP under sanitizers"
	exit 0
fi

SHIM=$TMP/failmalloc.so
gcc -shared -fPIC -O2 -Wall -Wextra -o "$SHIM" "$ROOT/tests/tools/failmalloc.c" -ldl ||
	{ echo "Bail out! cannot build tests/tools/failmalloc.c"; exit 1; }
REGRESSIONS=$ROOT/tests/torture/regressions.txt
KNOWN=$ROOT/tests/torture/known-crashes.txt

TEMPLATE=$TMP/template
"$SCHAKEL" -D "$TEMPLATE" init >/dev/null || { echo "Bail out! init failed"; exit 1; }

# The fixtures: adapter, file, table, rows when the whole file is stored,
# exit code of a run without failure.
CASES=(
	"brp brp-npsLa01.xml person 8 3"
	"huisvesting huisvesting.csv dwelling 6 0"
	"inspectie inspectie.json finding 5 0"
)

# one ADAPTER FILE TABLE ROWS N: one run with the Nth allocation failing;
# prints "N rc hit stored ingests verify|'stderr'" on one line.
one() {
	local adapter=$1 file=$2 table=$3 rows=$4 n=$5
	local d=$TMP/run-$adapter-$n rc hit stored ingests verify
	rm -rf "$d"
	cp -a "$TEMPLATE" "$d"
	# timeout and env run without the shim; only schakel gets it
	timeout -s KILL 30 env FAILMALLOC_N="$n" FAILMALLOC_LOG="$d/fm.log" FAILMALLOC_BACKTRACE=1 \
		LD_PRELOAD="$SHIM" "$SCHAKEL" -D "$d" ingest "$adapter" "$FIX/$file" >"$d/out" 2>"$d/err"
	rc=$?
	hit=0
	grep -q '^hit ' "$d/fm.log" 2>/dev/null && hit=1
	stored=$(sqlite3 "$d/schakel.db" "SELECT count(*) FROM $table" 2>&1)
	ingests=$(sqlite3 "$d/schakel.db" "SELECT count(*) FROM ingest" 2>&1)
	if "$SCHAKEL" -D "$d" log verify >/dev/null 2>&1; then verify=ok; else verify=broken; fi
	printf '%s %s %s %s %s %s|%s\n' "$n" "$rc" "$hit" "$stored" "$ingests" "$verify" \
		"$(head -c 300 "$d/err" | tr '\n' ' ')$(grep -m1 'refused\|rejected' "$d/out" | sed 's/^ */ [stdout] /' | cut -c1-240)"
	if [ "$rc" -ge 124 ]; then
		mkdir -p "$TMP/crashes"
		cp -a "$d" "$TMP/crashes/$adapter-$n"
	fi
	rm -rf "$d"
}
export -f one
export TMP TEMPLATE SHIM SCHAKEL FIX KNOWN

# stack ADAPTER N: the failing allocation's stack of a kept crash, one
# frame a line, without the shim's own frames
stack() {
	sed -n '/^hit /,/^calls /p' "$TMP/crashes/$1-$2/fm.log" 2>/dev/null |
		grep -v '^hit \|^calls \|failmalloc\|__libc_start\|(_start' | sed 's/ *\[0x[0-9a-f]*\]$//'
}

# known_crash ADAPTER N: prints the reason when the crash is a known one
known_crash() {
	local st
	st=$(stack "$1" "$2")
	[ -n "$st" ] && [ -s "$KNOWN" ] || return 1
	grep -v '^ *#\|^ *$' "$KNOWN" | while IFS='|' read -r pattern why; do
		pattern=$(echo "$pattern" | sed 's/ *$//')
		if echo "$st" | grep -qE -- "$pattern"; then
			echo "$why" | sed 's/^ *//'
			break
		fi
	done | grep .
}

# the N values for a fixture of C allocations
ns() {
	local c=$1 n step=${TORTURE_STEP:-7}
	for ((n = 1; n <= 300 && n <= c + 1; n++)); do echo $n; done
	if [ -n "${TORTURE_FULL:-}" ] || [ -n "${TORTURE_STEP:-}" ]; then
		for ((n = 300 + step; n <= c + 1; n += step)); do echo $n; done
	else
		for ((n = 307; n <= 3000 && n <= c + 1; n += 7)); do echo $n; done
		for ((n = 3061; n <= c + 1; n += 61)); do echo $n; done
	fi
	# far past the last allocation (counts vary a little from run to run):
	# must run as without the shim
	echo $((2 * c + 100))
}

# judge RESULTS ROWS OK-RC: checks every line; prints what is wrong
judge() {
	local res=$1 rows=$2 okrc=$3
	awk -v rows="$rows" -v okrc="$okrc" -F'|' '
	{
		split($1, f, " ")
		n = f[1]; rc = f[2]; hit = f[3]; stored = f[4]; ingests = f[5]; verify = f[6]; err = $2
		if (rc == 126 || rc == 127) { print "N=" n ": schakel could not be run (exit " rc "): " err; next }
		if (rc >= 124) { print "N=" n ": crashed or hung (exit " rc "): " err; next }
		if (rc != 0 && rc != 1 && rc != 3) { print "N=" n ": exit " rc ": " err; next }
		if (rc == 1 && err ~ /^ *$/) print "N=" n ": exit 1 without a message"
		if (hit && err ~ /\[stdout\] .*refused/) print "N=" n ": a failed allocation reported as the input refused: " err
		if (!hit && rc != okrc) print "N=" n ": no failure injected but exit " rc " (expected " okrc "): " err
		if (stored != 0 && stored != rows) print "N=" n ": " stored " of " rows " rows stored (not all or nothing)"
		if (stored == 0 && ingests != 0) print "N=" n ": an ingest row without its records"
		if (rc == 1 && stored != 0) print "N=" n ": exit 1 but " stored " rows stored"
		if ((rc == 0 || rc == 3) && stored != rows) print "N=" n ": exit " rc " but " stored " of " rows " rows stored"
		if (verify != "ok") print "N=" n ": log verify fails"
	}' "$res"
}

exec 3>&1
note() { echo "# $*" >&3; }

# Regressions first, then the sweep.
if [ -s "$REGRESSIONS" ]; then
	while read -r adapter n; do
		case $adapter in '' | '#'*) continue ;; esac
		for c in "${CASES[@]}"; do
			set -- $c
			[ "$1" = "$adapter" ] || continue
			r_args=("$@")
			_regr() {
				local rc why
				one "${r_args[0]}" "${r_args[1]}" "${r_args[2]}" "${r_args[3]}" "$n" >res
				rc=$(awk '{ print $2 }' res)
				if [ "$rc" -ge 124 ] && why=$(known_crash "${r_args[0]}" "$n"); then
					echo "# known crash: $why"
					return 0
				fi
				bad=$(judge res "${r_args[3]}" "${r_args[4]}")
				[ -z "$bad" ] || fail "$bad
$(stack "${r_args[0]}" "$n" | head -12 | sed 's/^/    /')"
			}
			t "regression: $adapter with allocation $n failing" _regr
		done
	done <"$REGRESSIONS"
fi

for c in "${CASES[@]}"; do
	set -- $c
	adapter=$1 file=$2 table=$3 rows=$4 okrc=$5
	# how many allocations a run makes
	rm -f "$TMP/count.log"
	cp -a "$TEMPLATE" "$TMP/count"
	FAILMALLOC_LOG=$TMP/count.log FAILMALLOC_BACKTRACE=1 LD_PRELOAD=$SHIM \
		"$SCHAKEL" -D "$TMP/count" ingest "$adapter" "$FIX/$file" >/dev/null 2>&1
	calls=$(sed -n 's/^calls \([0-9]*\).*/\1/p' "$TMP/count.log")
	rm -rf "$TMP/count"
	res=$TMP/results-$adapter
	t0=$SECONDS
	ns "${calls:-0}" | xargs -P "$(nproc)" -I{} bash -c "one $adapter $file $table $rows {}" >"$res"
	runs=$(wc -l <"$res")
	failed=$(awk '$2 == 1' "$res" | wc -l)
	absorbed=$(awk '$3 == 1 && ($2 == 0 || $2 == 3)' "$res" | wc -l)
	note "$adapter $file: $calls allocations; $runs runs in $((SECONDS - t0)) s: $failed exit 1, $absorbed absorbed the failure"
	# the messages seen, most frequent first
	cut -d'|' -f2 "$res" | grep -v '^ *$' | sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -6 |
		while read -r line; do note "   $line"; done
	sort -n "$res" >"$res.sorted"
	_crash() {
		local n rc why bad=
		while read -r n rc; do
			if why=$(known_crash "$adapter" "$n"); then
				note "   known crash, N=$n exit $rc: $why"
				continue
			fi
			echo "$adapter $n" >>"$TMP/new-regressions"
			bad="$bad
N=$n exit $rc; the failing allocation:
$(stack "$adapter" "$n" | head -12 | sed 's/^/    /')"
		done < <(awk '{ split($1, f, " "); if (f[2] >= 124 && f[2] != 126 && f[2] != 127) print f[1], f[2] }' FS='|' "$res")
		[ -z "$bad" ] || fail "$(echo "$bad" | head -60)"

		[ -n "$calls" ] && [ "$runs" -gt 0 ] || fail "no runs"
		tail -1 "$res.sorted" | awk '{ exit !($3 == 0) }' || fail "the last run still hit a failure"
	}
	_judge() {	# the crashes were _crash's business
		bad=$(judge "$res" "$rows" "$okrc" | grep -v 'crashed or hung')
		[ -z "$bad" ] || fail "$(echo "$bad" | head -15)"
	}
	t "torture $adapter: no crash, no hang, for each failing allocation" _crash
	t "torture $adapter: exit 0/1/3, a message on exit 1, all or nothing stored, log intact" _judge
done

# Keep crashing N values as regressions (appended, never removed here).
if [ -s "$TMP/new-regressions" ]; then
	mkdir -p "$(dirname "$REGRESSIONS")"
	[ -f "$REGRESSIONS" ] || echo "# ADAPTER N: allocation N failing crashed schakel ingest (tests/e2e/torture.sh)" >"$REGRESSIONS"
	sort -u "$TMP/new-regressions" | while read -r a n; do
		grep -qx "$a $n" "$REGRESSIONS" || echo "$a $n" >>"$REGRESSIONS"
	done
	note "crashing N values added to tests/torture/regressions.txt"
fi

# Leaks and memory errors on a sample of N, under valgrind.
SAMPLE=${TORTURE_VALGRIND:-20}
if ! command -v valgrind >/dev/null; then
	_n=$((_n + 1))
	echo "ok $_n - valgrind sample # SKIP valgrind missing"
elif [ "$SAMPLE" -gt 0 ]; then
	# vg_one ADAPTER FILE N: prints "N rc hits"; rc "known" for a crash
	# of known-crashes.txt (allocation counts differ a little under
	# valgrind, so a sampled N can land on one).  Leaks inside a library
	# on its own failure path are in valgrind.supp.
	vg_one() {
		local d=$TMP/vg-$1-$3 rc
		cp -a "$TEMPLATE" "$d"
		timeout -s KILL 120 env FAILMALLOC_N="$3" FAILMALLOC_LOG="$d/fm.log" FAILMALLOC_BACKTRACE=1 \
			LD_PRELOAD="$SHIM" \
			valgrind -q --soname-synonyms=somalloc=nouserintercepts --leak-check=full \
			--suppressions="$VGSUPP" --num-callers=40 \
			--errors-for-leak-kinds=definite --error-exitcode=99 --log-file="$d/vg.log" \
			"$SCHAKEL" -D "$d" ingest "$1" "$FIX/$2" >/dev/null 2>&1
		rc=$?
		if [ "$rc" -ge 124 ]; then
			mkdir -p "$TMP/crashes/vg-$1-$3"
			cp "$d/fm.log" "$TMP/crashes/vg-$1-$3/" 2>/dev/null
			known_crash "vg-$1" "$3" >/dev/null && rc=known
		fi
		echo "$3 $rc $(grep -c '^hit' "$d/fm.log" 2>/dev/null)"
		[ -s "$d/vg.log" ] && cp "$d/vg.log" "$TMP/vg-$1-$3.log"
		rm -rf "$d"
	}
	VGSUPP=$ROOT/tests/torture/valgrind.supp
	export VGSUPP
	export -f vg_one stack known_crash
	_vg() {
		: >vg.res
		# The sample: N spread evenly over the whole run of each fixture,
		# SAMPLE in all, where the failure makes the run exit 1 (an error
		# path), from N = 100 on: the first allocations are the dynamic
		# loader's and OpenSSL's start-up, and under valgrind the count
		# shifts into ld.so, which asserts on a failed malloc() (the
		# sweep above covers them without valgrind).
		per=$(((SAMPLE + ${#CASES[@]} - 1) / ${#CASES[@]}))
		for c in "${CASES[@]}"; do
			set -- $c
			awk '$2 == 1 && $1 >= 100 { print $1 }' "$TMP/results-$1.sorted" >cand
			total=$(wc -l <cand)
			[ "$total" -gt 0 ] || continue
			awk -v k="$per" -v t="$total" 'BEGIN { for (i = 0; i < k; i++) want[int((i + 0.5) * t / k) + 1] = 1 }
				want[NR] { print }' cand | sed "s/^/$1 $2 /"
		done | head -"$SAMPLE" >sample
		xargs -P "$(nproc)" -L1 bash -c 'vg_one "$0" "$1" "$2"' <sample >vg.res
		note "valgrind sample (adapter N): $(awk '{ print $1 ":" $3 }' sample | xargs)"
		bad=$(awk '$2 == 99 || ($2 ~ /^[0-9]+$/ && $2 >= 124)' vg.res)
		if [ -n "$bad" ]; then
			for f in "$TMP"/vg-*.log; do
				echo "# $(basename "$f"):"
				grep -A12 'definitely lost\|Invalid\|uninitialised' "$f" | head -30
			done
			fail "valgrind found errors or leaks at: $(echo "$bad" | xargs)"
		fi
		[ "$(wc -l <vg.res)" -eq "$(wc -l <sample)" ] || fail "not every sample ran"
	}
	t "valgrind, $SAMPLE failing allocations sampled: no memory error, no definite leak" _vg
fi
# Run by hand or by CI (make torture), not through tests/run.sh: a failed
# test must fail the command.
exit $((_failed > 0))
