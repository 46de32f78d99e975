#!/bin/bash
# Signals, feedback and the delivery outbox through the store interface on
# PostgreSQL: build/tests/test_outbox (the same tests it runs on SQLite)
# against a throw-away cluster (tests/pg/cluster.sh).  Among them: a lease
# holds until it lapses, then another node gets the row under the same
# message id; two claimers at once never get the same row; a row another
# transaction holds is skipped (FOR UPDATE SKIP LOCKED), not waited for.
. "$(dirname "$0")/../e2e/lib.sh"
. "$ROOT/tests/pg/cluster.sh"
pg_start

PROG=$ROOT/build/tests/test_outbox
[ -x "$PROG" ] || { echo "Bail out! no $PROG (make unit)"; exit 1; }

test_the_store_tests_pass_on_postgresql() {
	local out
	out=$(SCHAKEL_TEST_PG_DSN="$PG_DSN" CMOCKA_MESSAGE_OUTPUT=stdout "$PROG" 2>&1)
	echo "$out" | grep '^# ' | sed 's/^/  /'
	echo "$out" | grep -q 'SKIPPED' && fail "tests skipped with a database: $(echo "$out" | grep SKIPPED | head -3)"
	echo "$out" | grep -q 'PASSED  \] 11 test' || fail "$(echo "$out" | grep -E 'FAILED|ERROR|LINE' | head -10)"
}

t "the outbox and signal tests of test_outbox pass on PostgreSQL (none skipped)" test_the_store_tests_pass_on_postgresql
echo "1..$_n"
[ "$_failed" -eq 0 ]
