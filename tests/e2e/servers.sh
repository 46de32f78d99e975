# tests/e2e/servers.sh - sourced (after lib.sh) by every end-to-end script
# that starts servers: an early-exit fail, TAP notes, and servers and
# helpers that are stopped when a test's subshell exits, however it exits.
# Not executable, so tests/run.sh does not run it.

# In a test's subshell `fail` ends the test at once (the EXIT trap then
# stops its servers), so that no later assertion can hide a failure; it
# records the failure as lib.sh's does (an exit in a $(...) subshell ends
# only that subshell).
fail() {
	echo "# $*"
	echo "$*" >>"$_failfile"
	exit 1
}

exec 3>&1
note() {	# a TAP comment shown whether the test passes or fails
	echo "# $*" >&3
}

PIDS=()
GROUPS_=()
LOGS=()
# launch LOG CMD...: starts CMD in the background, stderr to LOG, and waits
# (10 s at most) for its "listening on 127.0.0.1:PORT"; sets LPID, LPORT.
launch() {
	local log=$1; shift
	: >"$log"
	"$@" 2>"$log" &
	LPID=$!
	PIDS+=("$LPID")
	LOGS+=("$log")
	trap on_exit EXIT
	for _ in $(seq 200); do
		LPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
		[ -n "$LPORT" ] && return 0
		kill -0 "$LPID" 2>/dev/null || { cat "$log"; fail "$1 did not start"; }
		sleep 0.05
	done
	fail "$1 did not say it was listening within 10 s"
}

stop() {	# stop PID: SIGTERM, 10 s grace, then SIGKILL
	kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 200); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && { echo "# pid $1 ignored SIGTERM for 10 s"; kill -KILL "$1"; }
	wait "$1" 2>/dev/null
	return 0
}

group() {
	setsid bash -c "$1" &
	GPID=$!
	GROUPS_+=("$GPID")
	trap on_exit EXIT
}

# bg CMD...: a background helper (not a server) that is stopped at exit too.
bg() {
	"$@" &
	BPID=$!
	PIDS+=("$BPID")
	trap on_exit EXIT
}

# Extra clean-up of a test (an unmount, say): set ON_EXIT_EXTRA to a command.
ON_EXIT_EXTRA=
on_exit() {
	local rc=$? i
	for i in "${!GROUPS_[@]}"; do
		kill -KILL -- -"${GROUPS_[$i]}" 2>/dev/null
		wait "${GROUPS_[$i]}" 2>/dev/null
	done
	for i in "${!PIDS[@]}"; do
		stop "${PIDS[$i]}"
	done
	[ -n "$ON_EXIT_EXTRA" ] && eval "$ON_EXIT_EXTRA"
	if [ "$rc" -ne 0 ]; then
		for i in "${!LOGS[@]}"; do
			[ -s "${LOGS[$i]}" ] || continue
			echo "# ${LOGS[$i]##*/}:"
			tail -12 "${LOGS[$i]}" | cut -c1-300 | sed 's/^/#   /'
		done
	fi
}

# until_ SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 after SECONDS.
until_() {
	local end=$((SECONDS + $1)); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}
