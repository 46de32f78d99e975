#!/bin/bash
# tests/run.sh - runs every test program given on the command line and the
# end-to-end scripts in tests/e2e/ (or $E2E_DIRS), and ends with one line CI reads:
#   N passed, N failed
#
# Unit test programs are cmocka programs, run with TAP output; end-to-end
# scripts print TAP lines too ("ok N - name" / "not ok N - name").  A
# program that crashes or exits non-zero without a "not ok" line counts as
# one failure of its own.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
log=$(mktemp -d /tmp/schakel-tests-XXXXXX)

run() {	# run NAME CMD...: runs one program and counts its TAP lines
	local name=$1; shift
	local out="$log/${name//\//_}.out"
	CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$out" 2>&1
	local rc=$?
	local ok nok
	ok=$(grep -ac '^ok ' "$out")
	# cmocka 1.1 writes a skipped test as "not ok N # SKIP": not a failure
	nok=$(grep -a '^not ok ' "$out" | grep -cv '^not ok [0-9]* # SKIP')
	passed=$((passed + ok))
	failed=$((failed + nok))
	if [ "$nok" -gt 0 ] || [ "$rc" -ne 0 ]; then
		[ "$nok" -eq 0 ] && failed=$((failed + 1))
		failures+=("$name")
		printf '%-32s FAIL (%d passed, %d failed, exit %d)\n' "$name" "$ok" "$nok" "$rc"
		grep -aE '^not ok|^# ' "$out" | head -20 | sed 's/^/    /'
		[ "$nok" -eq 0 ] && tail -20 "$out" | sed 's/^/    /'
	else
		skip=$(grep -ac '^ok [0-9]* - .*# SKIP' "$out")
		[ "$skip" -eq 0 ] && skip= || skip=", $skip skipped"
		printf '%-32s ok (%d%s)\n' "$name" "$ok" "$skip"
	fi
}

for t in "$@"; do
	run "$(basename "$t")" "$t"
done
# $E2E_DIRS: the directories of scripts (default tests/e2e; `make test`
# adds tests/pg, the PostgreSQL backend's).  $E2E_STORES: the stores the
# scripts of tests/e2e run on, each in turn (default sqlite; postgresql
# sets SCHAKEL_TEST_STORE, tests/e2e/lib.sh); a run on PostgreSQL is named
# with "@postgresql", as e2e/api@postgresql.
for dir in ${E2E_DIRS:-tests/e2e}; do
	stores=sqlite
	[ "$dir" = tests/e2e ] && stores=${E2E_STORES:-sqlite}
	for store in $stores; do
		label=
		[ "$store" = sqlite ] || label=@$store
		for t in "$dir"/*.sh; do
			[ -x "$t" ] || continue
			SCHAKEL_TEST_STORE=$store run "${dir#tests/}/$(basename "$t" .sh)$label" "$t"
		done
	done
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]} (output in $log)"
else
	rm -rf "$log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
