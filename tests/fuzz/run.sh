#!/bin/bash
# tests/fuzz/run.sh [SECONDS] - builds the libFuzzer targets into
# build-fuzz/ with clang (-fsanitize=fuzzer,address,undefined), replays every
# input under tests/fuzz/regressions/<target>/ (each once; any crash fails),
# then fuzzes each target for SECONDS (default 60) on a copy of its seed
# corpus tests/fuzz/corpus/<target>/, as many targets at a time as there are
# cores.  Exits non-zero on any crash, leak, UB report or time-out, printing
# the file that caused it.  docs/hardening.md explains the targets.
#
#   make fuzz FUZZ_SECONDS=60
#   tests/fuzz/run.sh 600 adapter_brp     (one target, ten minutes)
#
# A crash file found here belongs, once understood, in
# tests/fuzz/regressions/<target>/ so that every later run replays it.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_EACH=${1:-60}
shift || true
B=build-fuzz
CC=${FUZZ_CC:-clang}
ALL_TARGETS=(adapter_brp adapter_huisvesting adapter_inspectie record config http)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
[ $# -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

command -v "$CC" >/dev/null || { echo "$CC is not installed (make deps)"; exit 1; }

CFLAGS=(-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-Wall -Wextra -Werror -Isrc "-DSCHAKEL_SCHEMA_DIR=\"$ROOT/schemas\"")
read -r -a PKG_CFLAGS <<<"$(pkg-config --cflags libxml-2.0 jansson)"
read -r -a PKG_LIBS <<<"$(pkg-config --libs libxml-2.0 jansson)"
REC_SRC=(src/record.c src/norm.c src/xml.c src/status.c)
# The http target links the whole program but main.c, with every library.
mkvar() {	# mkvar NAME: the value of a Makefile variable
	make -s --no-print-directory --eval='print-%: ; @echo $($*)' "print-$1"
}
read -r -a ALL_PKG_CFLAGS <<<"$(pkg-config --cflags $(mkvar PKGS))"
read -r -a ALL_PKG_LIBS <<<"$(pkg-config --libs $(mkvar PKGS)) -ldl -lm -lpthread"
HTTP_DEFS=("-DSCHAKEL_ROOT=\"$ROOT\"" "-DSCHAKEL_ADAPTER_DIR=\"$ROOT/$B/adapters\""
	"-DSCHAKEL_SAMPLE_DIR=\"$ROOT/tests/fixtures\"")

# sources TARGET: the C files of one target
sources() {
	case $1 in
	adapter_*) echo tests/fuzz/fuzz_adapter.c adapters/"${1#adapter_}"/*.c "${REC_SRC[@]}" ;;
	record) echo tests/fuzz/fuzz_record.c "${REC_SRC[@]}" ;;
	config) echo tests/fuzz/fuzz_config.c src/config.c src/rule.c src/status.c ;;
	http) echo tests/fuzz/fuzz_http.c $(ls src/*.c | grep -v -e '^src/main\.c$' -e '^src/demo\.c$') ;;
	esac
}
# max_len TARGET: the largest input the fuzzer makes for it
max_len() {
	case $1 in
	adapter_*) echo 16384 ;;
	record) echo 2048 ;;
	config) echo 8192 ;;
	http) echo 16384 ;;
	esac
}

mkdir -p "$B"
for t in "${TARGETS[@]}"; do
	read -r -a src <<<"$(sources "$t")"
	[ ${#src[@]} -gt 0 ] || { echo "unknown target $t"; exit 2; }
	extra=()
	[ "${t#adapter_}" != "$t" ] && extra=(-Iadapters/"${t#adapter_}")
	[ "$t" = http ] && extra=("${ALL_PKG_CFLAGS[@]}" "${HTTP_DEFS[@]}" "${ALL_PKG_LIBS[@]}")
	# config.c checks a [store] dsn with libpq's own parser
	[ "$t" = config ] && read -r -a extra <<<"$(pkg-config --cflags --libs libpq)"
	newer=0
	[ -x "$B/fuzz_$t" ] || newer=1
	for f in "${src[@]}" src/*.h tests/fuzz/run.sh; do
		[ "$f" -nt "$B/fuzz_$t" ] && newer=1
	done
	if [ $newer -eq 1 ]; then
		echo "  FUZZ $B/fuzz_$t"
		"$CC" "${CFLAGS[@]}" "${PKG_CFLAGS[@]}" "${extra[@]}" -o "$B/fuzz_$t" "${src[@]}" \
			"${PKG_LIBS[@]}" -lcsv -linih -lm || exit 1
	fi
done

# The adapters the http target's uploads load with dlopen(): sanitized like
# it, but without coverage counters (the loader dlclose()s them, and
# libFuzzer must not read counters of an unloaded module).
if printf '%s\n' "${TARGETS[@]}" | grep -qx http; then
	mkdir -p "$B/adapters"
	for a in adapters/*/; do
		a=$(basename "$a")
		so=$B/adapters/$a.so
		if [ ! -f "$so" ] || [ -n "$(find adapters/"$a" src/adapter.h -newer "$so" -name '*.[ch]')" ]; then
			echo "  ADAPTER $so"
			"$CC" -std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fPIC -shared \
				-fsanitize=address,undefined -fno-sanitize-recover=all -Isrc \
				"${PKG_CFLAGS[@]}" -o "$so" adapters/"$a"/*.c "${PKG_LIBS[@]}" -lcsv || exit 1
		fi
	done
	export SCHAKEL_ADAPTER_DIR=$ROOT/$B/adapters
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()

# Regressions first: each input once.
for t in "${TARGETS[@]}"; do
	reg=tests/fuzz/regressions/$t
	compgen -G "$reg/*" >/dev/null || continue	# (.gitkeep does not count)
	if ! "$B/fuzz_$t" -rss_limit_mb=2048 -timeout=25 "$reg"/* >"$B/regress-$t.log" 2>&1; then
		echo "fuzz_$t: a regression input fails again:"
		grep -E 'Running:|ERROR|SUMMARY' "$B/regress-$t.log" | tail -5 | sed 's/^/    /'
		failed+=("$t (regression)")
	else
		echo "fuzz_$t: $(ls "$reg" | wc -l) regression inputs replayed, ok"
	fi
done

# fuzz TARGET: runs one target for SECONDS_EACH on a copy of its corpus
fuzz() {
	local t=$1 work=$B/corpus/$1 art=$B/artifacts/$1/
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
	"$B/fuzz_$t" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=25 \
		-max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$art" \
		"$work" >"$B/fuzz-$t.log" 2>&1
}

pids=()
running=0
for t in "${TARGETS[@]}"; do
	fuzz "$t" &
	pids+=($!)
	running=$((running + 1))
	if [ $running -ge "$(nproc)" ]; then
		wait -n
		running=$((running - 1))
	fi
done
i=0
for t in "${TARGETS[@]}"; do
	wait "${pids[$i]}"
	rc=$?
	i=$((i + 1))
	log=$B/fuzz-$t.log
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
	crash=$(ls "$B/artifacts/$t/" 2>/dev/null)
	if [ $rc -ne 0 ] || [ -n "$crash" ]; then
		echo "fuzz_$t: FAILED (exit $rc) after ${runs:-?} runs"
		grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5 | sed 's/^/    /'
		for c in $crash; do echo "    crash file: $B/artifacts/$t/$c"; done
		echo "    log: $log"
		failed+=("$t")
	else
		echo "fuzz_$t: ok, ${runs:-?} runs in ${SECONDS_EACH}s (${speed:-?}/s), $cov, $corp"
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzzing failed: ${failed[*]}"
	exit 1
fi
echo "fuzzing: ${#TARGETS[@]} targets, no crashes"
