#!/bin/bash
# The command line of product.md: data directory, help, exit codes,
# configuration errors, the adapter ABI check.
. "$(dirname "$0")/lib.sh"

test_init_makes_conf_keys_and_database() {
	sk init >out || fail "init failed"
	contains out "schakel.conf written"
	[ "$(stat -c %a "$D/keys/pseudonym.key")" = 600 ] || fail "pseudonym.key not 0600"
	[ "$(stat -c %a "$D/keys/encrypt.key")" = 600 ] || fail "encrypt.key not 0600"
	[ "$(stat -c %a "$D/keys")" = 700 ] || fail "keys/ not 0700"
	[ "$(stat -c %a "$D/schakel.conf")" = 600 ] || fail "schakel.conf not 0600"
	[ "$STORE" != sqlite ] || [ "$(db 'PRAGMA journal_mode')" = wal ] || fail "database not in WAL mode"
}

test_init_twice_keeps_conf_and_keys() {
	sk init >/dev/null || return 1
	echo "; my note" >>"$D/schakel.conf"
	sum=$(cat "$D/keys/"* "$D/schakel.conf" | sha256sum)
	sk init >out || fail "second init failed"
	contains out "schakel.conf kept"
	[ "$(cat "$D/keys/"* "$D/schakel.conf" | sha256sum)" = "$sum" ] || fail "conf or keys changed"
}

test_data_dir_from_env_and_default() {
	SCHAKEL_DATA=$D "$SCHAKEL" init >/dev/null || fail "init via env failed"
	[ -f "$D/schakel.conf" ] || fail "no conf in \$SCHAKEL_DATA"
	mkdir cwd && cd cwd && env -u SCHAKEL_DATA "$SCHAKEL" init >/dev/null || fail "default init failed"
	[ -f data/schakel.conf ] || fail "no ./data/schakel.conf"
}

test_help_for_every_command() {
	"$SCHAKEL" --help >out || fail "--help failed"
	contains out "usage: schakel"
	for c in init ingest match signals log serve demo; do
		"$SCHAKEL" "$c" --help >out || fail "$c --help failed"
		contains out "usage: schakel [-D DIR] $c"
	done
	"$SCHAKEL" demo --help >out && contains out "--keep"
}

test_usage_errors_exit_2() {
	sk init >/dev/null || return 1
	expect_rc 2 "$SCHAKEL" frobnicate
	expect_rc 2 "$SCHAKEL"
	expect_rc 2 sk ingest brp
	expect_rc 2 sk ingest nosuchadapter "$FIX/huisvesting.csv"
	expect_rc 2 sk ingest ../etc/passwd "$FIX/huisvesting.csv"
	expect_rc 2 sk match --as-of 2026-02-30
	expect_rc 2 sk match --as-of yesterday
	expect_rc 2 sk signals --format yaml
	expect_rc 2 sk signals --rule NOPE
	expect_rc 2 sk log check
}

test_missing_data_dir_is_a_clear_failure() {
	expect_rc 1 sk match >out
	contains out "is not a schakel data directory"
	contains out "init"
}

test_unknown_config_key_names_file_and_line() {
	sk init >/dev/null || return 1
	printf '[match]\nwindow_days = 30\nwindow_dayz = 3\n' >"$D/schakel.conf"
	expect_rc 1 sk signals >out
	contains out "$D/schakel.conf:3:"
	contains out "window_dayz"
	printf '[matsj]\n' >"$D/schakel.conf"
	expect_rc 1 sk signals >out
	contains out "$D/schakel.conf:1:"
	# a NUL byte inside a value (issue 13.8)
	printf '[match]\nwindow_days = 30\n[party.00000001000000001783]\nname = West\0land\n' >"$D/schakel.conf"
	expect_rc 1 sk signals >out
	contains out "$D/schakel.conf:4: a NUL byte in the line"
}

test_config_changes_the_rules() {
	init_example && ingest_examples || return 1
	sed -i '/^\[rule.OVERBEWONING\]/,/^\[/ s/^enabled = .*/enabled = false/' "$D/schakel.conf"
	sed -i 's/^min_gap = .*/min_gap = 3/' "$D/schakel.conf"
	sk match --as-of 2026-11-01 >/dev/null || fail "match failed"
	[ "$(sk signals --format json --rule OVERBEWONING | wc -l)" -eq 0 ] || fail "OVERBEWONING raised"
	# gap 7 at 2671AB 10 stays, gap 2 at 2672XY 7 goes
	[ "$(sk signals --format json --rule ONDERREGISTRATIE | wc -l)" -eq 1 ] || fail "min_gap ignored"
}

# match --changed after a correction: the signals that no longer hold end
# (ended_on, an `ended` log entry), shown as ended; a full match after it
# finds nothing to change.
test_match_changed_ends_what_no_longer_holds() {
	init_example && ingest_examples || return 1
	sk match --changed --as-of 2026-11-01 >out || fail "match --changed failed"
	contains out "6 signals hold, 6 new, 0 ended (a full run: no match before)"
	# NLA-2026-000101 corrected: 2 persons found at 2671AB 10, not 9
	sed '0,/"aangetroffen_personen": 9/ s//"aangetroffen_personen": 2/' "$FIX/inspectie.json" \
		>fixed.json
	sk ingest inspectie fixed.json >out && contains out "(1 new or changed)"
	sk match --changed --as-of 2026-11-01 >out || fail "second match --changed failed"
	contains out "2 ended (1 addresses marked)"
	[ "$(db "SELECT count(*) FROM signal WHERE ended_on = '2026-11-01'")" -eq 2 ] ||
		fail "not ended in the store"
	sk signals --format json --rule ONDERREGISTRATIE >out
	contains out '"ended_on":"2026-11-01"'
	contains out '"ended_on":null'
	sk signals >out && contains out "ended 2026-11-01: 9 found, 2 registered"
	sk signals --format xml >out && contains out "<ended_on>2026-11-01</ended_on>"
	xmllint --noout --schema "$ROOT/schemas/schakel-signal.xsd" out || fail "XML not valid"
	sk log --kind ended --format json >out
	[ "$(wc -l <out)" -eq 2 ] || fail "expected 2 ended entries"
	contains out '"ended_on":"2026-11-01"'
	sk match --as-of 2026-11-01 >out && contains out "0 new, 0 ended"
	sk log verify >/dev/null || fail "log does not verify"
}

test_adapter_with_wrong_abi_is_refused() {
	sk init >/dev/null || return 1
	mkdir adapters
	cp "$ROOT"/build/adapters/*.so adapters/
	cat >bad.c <<'C'
#include "adapter.h"
__attribute__((visibility("default"))) const struct adapter schakel_adapter = {
	.abi_version = ADAPTER_ABI_VERSION + 1, .name = "brp",
};
C
	cc -shared -fPIC -I"$ROOT/src" -o adapters/brp.so bad.c || fail "cannot build test adapter"
	SCHAKEL_ADAPTER_DIR=$PWD/adapters expect_rc 1 sk ingest brp "$FIX/brp-npsLa01.xml" >out
	abi=$(sed -n 's/^#define ADAPTER_ABI_VERSION \([0-9]*\)/\1/p' "$ROOT/src/adapter.h")
	contains out "built for adapter ABI version $((abi + 1))"
	contains out "speaks version $abi"
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "records stored"
}

regs() {	# the registrations, one "begindatum addr" a line
	db "SELECT begindatum || ' ' || addr FROM person ORDER BY begindatum"
}

# Issue 13.6: each mutatiesoort of an npsLk01 does what StUF-BG means by it.
test_lk01_mutations_add_correct_move_and_remove() {
	sk init >/dev/null || return 1
	lk01 T T 2671AB 10 20250301 >t.xml
	expect_rc 0 sk ingest brp t.xml >/dev/null || return 1
	[ "$(regs)" = "2025-03-01 2671AB|10||" ] || fail "toevoeging: $(regs)"
	# a correction of the address of the same residence replaces it
	lk01 W W 2671AB 10 20250301 W 2671AC 3 20250301 >c.xml
	expect_rc 0 sk ingest brp c.xml >/dev/null || return 1
	[ "$(regs)" = "2025-03-01 2671AC|3||" ] || fail "correction: $(regs)"
	# a move: a new residence from a later date, the old one kept as history
	lk01 W W 2671AC 3 20250301 W 2672XY 7 20261015 >m.xml
	expect_rc 0 sk ingest brp m.xml >/dev/null || return 1
	[ "$(regs)" = "2025-03-01 2671AC|3||
2026-10-15 2672XY|7||" ] || fail "move: $(regs)"
	# a verwijdering removes the registration it names, and no other
	lk01 V V 2672XY 7 20261015 >v.xml
	expect_rc 0 sk ingest brp v.xml >out || return 1
	contains out "1 accepted (1 new or changed)" || return 1
	[ "$(regs)" = "2025-03-01 2671AC|3||" ] || fail "verwijdering: $(regs)"
	expect_rc 0 sk ingest brp v.xml >out || return 1	# again: nothing changes
	contains out "1 accepted (0 new or changed)" || return 1
	# a beëindiging is not processed: rejected, nothing changes
	lk01 E E 2671AC 3 20250301 >e.xml
	expect_rc 3 sk ingest brp e.xml >out || return 1
	contains out "StUF:mutatiesoort 'E' is not processed" || return 1
	[ "$(regs)" = "2025-03-01 2671AC|3||" ] || fail "beëindiging: $(regs)"
}

test_demo_runs_the_whole_pipeline() {
	"$SCHAKEL" demo >out || fail "demo failed"
	contains out "6 signals"
	contains out "exchange log intact"
	contains out "9 persons found (inspectie) on 48 m2: at most 4"
}

t "init makes conf, keys (0600) and a WAL database" test_init_makes_conf_keys_and_database
t "init twice keeps conf and keys" test_init_twice_keeps_conf_and_keys
t "data directory from \$SCHAKEL_DATA and ./data" test_data_dir_from_env_and_default
t "every command has --help" test_help_for_every_command
t "usage errors exit 2" test_usage_errors_exit_2
t "a missing data directory is a clear failure" test_missing_data_dir_is_a_clear_failure
t "unknown config keys and sections name file and line" test_unknown_config_key_names_file_and_line
t "configuration changes the rules" test_config_changes_the_rules
t "match --changed ends what no longer holds" test_match_changed_ends_what_no_longer_holds
t "an adapter built for another ABI is refused" test_adapter_with_wrong_abi_is_refused
t "npsLk01: a toevoeging adds, a correction replaces, a move adds, a verwijdering removes" test_lk01_mutations_add_correct_move_and_remove
t "demo runs the whole pipeline" test_demo_runs_the_whole_pipeline
