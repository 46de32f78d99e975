#!/bin/bash
# tests/lint.sh - static analysis: cppcheck and clang-tidy (checks chosen in
# .clang-tidy at the top of the tree) over src/*.c and adapters/*/*.c.
# Passes only when both report nothing.
#
#   make lint
#
# compile_commands.json is written into a temporary directory from the
# Makefile's own flags (make print-ALL_CFLAGS), so clang-tidy sees exactly
# what the compiler sees.  A finding that is a false positive is silenced
# where it occurs, with a comment why:
#   cppcheck:    // cppcheck-suppress <id>
#   clang-tidy:  // NOLINT(<check>)  or  // NOLINTNEXTLINE(<check>)
# Findings in files that cannot be touched at the moment (or real bugs not
# fixed yet) are listed in tests/lint-known.txt, each with why: a finding
# listed there is counted but does not fail the run.  That list must only
# shrink.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
for tool in cppcheck clang-tidy; do
	command -v $tool >/dev/null || { echo "$tool is not installed (make deps)"; exit 1; }
done
tmp=$(mktemp -d /tmp/schakel-lint-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

mkvar() {	# mkvar NAME: the value of a Makefile variable
	make -s --no-print-directory --eval='print-%: ; @echo $($*)' "print-$1"
}
# -Werror off: clang warns about things gcc does not, and that is clang-tidy's job.
read -r -a flags <<<"$(mkvar ALL_CFLAGS | sed 's/-Werror//') $(mkvar PATHS)"
files=(src/*.c adapters/*/*.c)

json_str() {	# json_str S: S as a JSON string
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}
{
	echo "["
	sep=""
	for f in "${files[@]}"; do
		printf '%s{"directory": %s, "file": %s, "arguments": [%s' "$sep" \
			"$(json_str "$ROOT")" "$(json_str "$ROOT/$f")" "$(json_str cc)"
		for a in "${flags[@]}" "-I$(dirname "$f")" -c "$f"; do
			printf ', %s' "$(json_str "$a")"
		done
		printf ']}\n'
		sep=","
	done
	echo "]"
} >"$tmp/compile_commands.json"

# known FILE LINE ID: whether the finding ID at FILE:LINE is in
# tests/lint-known.txt (matched by the text of the line, not its number, so
# edits elsewhere in the file do not break the match).
KNOWN=tests/lint-known.txt
known() {
	local text
	text=$(sed -n "${2}p" "$1" 2>/dev/null)
	while IFS='|' read -r kf kid ktext _; do
		case $kf in ''|'#'*) continue ;; esac
		[ "$kf" = "$1" ] && [ "$kid" = "$3" ] && [[ $text == *"$ktext"* ]] && return 0
	done <"$KNOWN"
	return 1
}
# report FILE: prints the findings (lines "file:line: ... [id]") not known,
# returns 1 if there were any
report() {
	local new=0 f l id
	while IFS= read -r line; do
		f=${line%%:*}; f=${f#"$ROOT/"}
		l=${line#*:}; l=${l%%:*}
		id=${line##*[}; id=${id%]}
		if known "$f" "$l" "$id"; then
			nknown=$((nknown + 1))
		else
			echo "${line#"$ROOT/"}"
			new=1
		fi
	done < <(grep -E '^[^ ].*:[0-9]+:.*\[[A-Za-z0-9_.,-]+\]$' "$1")
	return $new
}

rc=0
nknown=0
echo "cppcheck: ${#files[@]} files"
# The system headers are not given: cppcheck does not need them and would
# spend minutes in them (missingIncludeSystem).  sys/queue.h is, for its
# LIST_* macros, which cppcheck would otherwise read as syntax errors.
# varFuncNullUB is off: it warns that NULL as the sentinel of a variadic
# call (log_event(..., NULL)) might be a plain 0 on some platform; glibc's C
# NULL is ((void *)0), and log_event() carries __attribute__((sentinel)), so
# the compiler checks every such call.
cppcheck -q -j"$(nproc)" --std=c11 --enable=warning,performance,portability \
	--inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB \
	--include=/usr/include/x86_64-linux-gnu/sys/queue.h \
	-Isrc -Iadapters/brp -D__GNUC__ -D_GNU_SOURCE \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	"${files[@]}" >"$tmp/cppcheck.out" 2>&1
report "$tmp/cppcheck.out" || rc=1

echo "clang-tidy: ${#files[@]} files"
printf '%s\n' "${files[@]}" | xargs -P"$(nproc)" -n4 clang-tidy -p "$tmp" --quiet \
	>"$tmp/tidy.out" 2>"$tmp/tidy.err"
report "$tmp/tidy.out" || rc=1
[ "$nknown" -gt 0 ] && echo "($nknown known findings of $KNOWN not shown)"
if [ $rc -eq 0 ]; then
	echo "lint: clean"
else
	echo "lint: findings above (fix them, or see the top of tests/lint.sh)"
fi
exit $rc
