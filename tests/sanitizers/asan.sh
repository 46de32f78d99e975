#!/bin/bash
# tests/sanitizers/asan.sh - builds the whole project (program, adapters,
# unit tests) in build-asan/ with AddressSanitizer, UndefinedBehaviorSanitizer
# and LeakSanitizer, and runs the whole suite (unit tests and the end-to-end
# scripts, which use the sanitized binary through $SCHAKEL) with every
# sanitizer report fatal.  Ends with tests/run.sh's "N passed, N failed".
#
#   tests/sanitizers/asan.sh            (or: make asan)
#   ASAN_CC=clang tests/sanitizers/asan.sh
#
# The adapters are loaded with dlopen() into the sanitized binary, so they
# are built with the same flags (the Makefile uses CFLAGS and LDFLAGS for
# them too).  The peak-RSS tests skip themselves when $SCHAKEL_SANITIZED is
# set: ASan's shadow memory and quarantine make those numbers meaningless.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=build-asan
CC=${ASAN_CC:-gcc}
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

make --no-print-directory -j"$(nproc)" CC="$CC" B="$B" \
	CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN" all unit

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Leaks inside third-party libraries only; see the comments in the file.
export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
export SCHAKEL="$ROOT/$B/schakel"
export SCHAKEL_ADAPTER_DIR="$ROOT/$B/adapters"
export SCHAKEL_SANITIZED=1
export SCHAKEL_TESTSOURCE="$ROOT/$B/tests/testsource"	# the scripted source of pull.sh
export SCHAKEL_LEASETOOL="$ROOT/$B/tests/leasetool"	# the job leases of lease.sh, nodes.sh

# the PostgreSQL tests too (tests/pg/: each starts its own cluster)
E2E_DIRS="tests/e2e tests/pg" exec tests/run.sh "$B"/tests/test_*
