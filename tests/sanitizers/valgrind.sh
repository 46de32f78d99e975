#!/bin/bash
# tests/sanitizers/valgrind.sh - runs each unit test program given on the
# command line under valgrind's memcheck: any memory error or definite leak
# fails that program.  Ends with "N passed, N failed" (one count a program).
#
#   make valgrind
#   tests/sanitizers/valgrind.sh build/tests/test_norm ...
#
# Only "definite" leaks count: libxml2, OpenSSL and SQLite keep global state
# alive until exit ("still reachable"), which is not a leak of ours.  The
# programs must be a normal (not ASan) build: valgrind and ASan do not mix.
set -u
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (make deps)"; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 TEST-PROGRAM..."; exit 2; }

passed=0
failed=0
log=$(mktemp -d /tmp/schakel-valgrind-XXXXXX)
for t in "$@"; do
	name=$(basename "$t")
	# cmocka forks nothing by default; --child-silent-after-fork keeps the
	# output of any helper the test runs out of the log.
	CMOCKA_MESSAGE_OUTPUT=TAP valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --error-exitcode=1 --child-silent-after-fork=yes \
		--track-origins=yes --log-file="$log/$name.vg" "$t" >"$log/$name.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$log/$name.vg" ]; then
		passed=$((passed + 1))
		printf '%-32s ok\n' "$name"
	else
		failed=$((failed + 1))
		printf '%-32s FAIL (exit %d)\n' "$name" "$rc"
		head -40 "$log/$name.vg" | sed 's/^/    /'
		grep '^not ok' "$log/$name.out" | head -10 | sed 's/^/    /'
	fi
done
if [ "$failed" -gt 0 ]; then
	echo "output in $log"
else
	rm -rf "$log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
