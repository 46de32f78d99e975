#!/bin/bash
# The analyst's page (src/portal.c) in a real browser: Debian's Chromium
# driven by playwright-core (tests/node/portal-check.mjs) with a party's
# client certificate from certs/mkcerts.sh, on a running `schakel serve`
# with the examples uploaded.  The page's list is the inbox API's, newest
# first, and its filters select what the API says; feedback given on the
# page is in `schakel feedback`; a signal of another party is not
# reachable by its id, nor is feedback on it; the BSN is shown only to a
# party with receive_bsn; a cross-site form cannot give feedback; the page
# has a strict Content-Security-Policy and no console errors.
#
# SCHAKEL_SCREENSHOTS=DIR copies the screenshot to DIR/portal.png (this is
# how docs/portal.png is made).
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034
NEEDS="curl openssl jq sqlite3 node chromium"	# read by operator/common.sh
. "$E2E/operator/common.sh"

NODE_DIR=$ROOT/tests/node
if [ -z "$MISSING" ] && [ ! -d "$NODE_DIR/node_modules" ]; then
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$TMP/npm.log" 2>&1 ||
		MISSING="$MISSING npm-packages(tests/node: npm ci failed)"
fi

# browse OIN OUT [FEEDBACK_ID [FOREIGN_ID]]: the page as that party sees it, in OUT/result.json
browse() {
	local oin=$1 out=$2
	shift 2
	NODE_EXTRA_CA_CERTS=$D/certs/ca.crt timeout 120 node "$NODE_DIR/portal-check.mjs" \
		"https://127.0.0.1:$PORT" "$D/certs/party-$oin.crt" "$D/certs/party-$oin.key" "$out" "$@" \
		>"$out.log" 2>&1 || fail "the browser run failed: $(jq -r .error "$out/result.json" 2>/dev/null | head -5) $(tail -5 "$out.log")"
}

# --- the daemon, its data, the pages ------------------------------------------
PAGE=$TMP/page

test_daemon_with_data_and_the_page_for_two_parties() {
	mkdir -p "$PAGE"
	D=$PAGE/data
	setup
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all receive_bsn=true
	party $V "Gemeente Venlo" gemeenten=0983 supplies=brp receives=all
	party $N "Nederlandse Arbeidsinspectie" "supplies=inspectie, huisvesting" \
		"receives=OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING"
	serve
	upload $W brp "$FIX/brp-npsLa01.xml"
	upload $V brp "$FIX/brp-venlo-npsLa01.xml"
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
	for who in $W $N; do
		want 200 $who "/v1/signals?limit=1000"
		cp body "$PAGE/inbox.$who.json"
	done
	want 200 $W /
	cp body "$PAGE/page.html"
	ob=$(signal_id OVERBEWONING 2671AB)
	gv=$(signal_id GEEN_VERGUNNING 2671AC)
	[ -n "$ob" ] && [ -n "$gv" ] || fail "no signals to look at"
	echo "$ob" >"$PAGE/ob"
	echo "$gv" >"$PAGE/gv"
	browse $W "$PAGE/$W" "$ob"
	browse $N "$PAGE/$N" "" "$gv"
	sk feedback >"$PAGE/feedback.txt" 2>&1
	db "SELECT oin, signal_id, outcome, note FROM feedback" >"$PAGE/feedback.rows"
	[ -n "${SCHAKEL_SCREENSHOTS:-}" ] && cp "$PAGE/$W/portal.png" "$SCHAKEL_SCREENSHOTS/portal.png"
	touch "$PAGE/ready"
}

saved() {	# R: the result of party $1's run, or this test fails
	[ -f "$PAGE/ready" ] || fail "no page (the first test failed)"
	R=$PAGE/$1/result.json
	cd "$PAGE" || fail "no test directory"
}

test_the_page_loads_with_a_strict_csp_and_no_console_errors() {
	for who in $W $N; do
		saved $who
		jq -e '.status == 200 and (.loadConsole | length) == 0' "$R" >/dev/null || fail "$who: status $(jq .status "$R"), console: $(jq -c .loadConsole "$R")"
		csp=$(jq -r .csp "$R")
		for directive in "default-src 'none'" "script-src 'self'" "frame-ancestors 'none'" "form-action 'none'"; do
			[[ $csp == *"$directive"* ]] || fail "the CSP lacks $directive: $csp"
		done
	done
	jq -r .header "$PAGE/$W/result.json" | grep -q 'Signals for Gemeente Westland' || fail "the page does not name the party: $(jq .header "$PAGE/$W/result.json")"
	# No inline script: the only scripts are /portal.js and the JSON data block.
	grep -o '<script[^>]*>' page.html >scripts
	[ "$(grep -cv -e 'src="/portal.js"' -e 'type="application/json"' scripts)" -eq 0 ] || fail "inline scripts: $(cat scripts)"
	grep -qiE 'https?://' page.html && fail "the page names another site: $(grep -oiE 'https?://[^"]*' page.html | head -3)"
	# Loading the page costs no refusal (no favicon or other 404).
	# (The only refusals are those of the feedback the tests give on purpose.)
	q="FROM exlog WHERE kind = 'refusal' AND subject NOT LIKE '/v1/signals/%/feedback'"
	[ "$(D=$PWD/data; db "SELECT count(*) $q")" -eq 0 ] || fail "refusals: $(D=$PWD/data; db "SELECT subject, detail $q")"
}

test_the_list_is_the_inbox_newest_first_and_filters_by_rule() {
	for who in $W $N; do
		saved $who
		jq -r '.signals | sort_by(-.cursor) | .[].id' "inbox.$who.json" >want
		jq -r '.rows[].id' "$R" >got
		[ -s want ] || fail "$who: an empty inbox"
		diff want got >d || fail "$who: the page's list is not the inbox newest first: $(xargs <d)"
		for rule in $(jq -r '.byRule | keys[]' "$R"); do
			diff <(jq -r --arg r "$rule" '.signals | sort_by(-.cursor) | .[] | select(.rule == $r) | .id' "inbox.$who.json") \
				<(jq -r --arg r "$rule" '.byRule[$r][]' "$R") >d || fail "$who, rule $rule: $(xargs <d)"
		done
	done
	# The inspectorate's filter offers the rules it receives, not GEEN_VERGUNNING.
	jq -e '.byRule | keys == ["ADRES_AFWIJKING", "ONDERREGISTRATIE", "OVERBEWONING"]' "$PAGE/$N/result.json" >/dev/null ||
		fail "the inspectorate's rules: $(jq -c '.byRule | keys' "$PAGE/$N/result.json")"
}

test_each_signal_shows_its_evidence_in_words() {
	saved $N
	id=$(cat ob)
	text=$(jq -r --arg i "$id" '.details[$i]' "$R")
	for words in "OVERBEWONING (overcrowding) at 2671AB 10" "Why" "Evidence" "m² a person" \
		"Inspection finding NLA-2026-" "BRP registration of person" "Housing register entry for 2671AB 10"; do
		[[ $text == *"$words"* ]] || fail "the OVERBEWONING detail lacks '$words': $text"
	done
	m2=$(sed -n '/^\[rule.OVERBEWONING\]/,/^\[/ s/^m2_per_person = //p' data/schakel.conf)
	[[ $text == *"at $m2 m² a person"* ]] || fail "the rule's threshold ($m2) is not shown"
	for rule in ONDERREGISTRATIE ADRES_AFWIJKING; do
		sid=$(jq -r --arg r "$rule" '.signals[] | select(.rule == $r) | .id' "inbox.$N.json" | head -1)
		[ "$(jq -r --arg i "$sid" '.details[$i] | test("Why\n") and test("Evidence\n")' "$R")" = true ] || fail "$rule: $(jq -r --arg i "$sid" '.details[$i]' "$R")"
	done
}

test_the_bsn_is_shown_only_with_receive_bsn() {
	saved $W
	aa=$(jq -r '.signals[] | select(.rule == "ADRES_AFWIJKING") | .id' "inbox.$W.json")
	bsn=$(jq -r '.signals[] | select(.rule == "ADRES_AFWIJKING") | .bsn' "inbox.$W.json")
	[[ $bsn =~ ^[0-9]{9}$ ]] || fail "Westland's inbox has no BSN: $bsn"
	jq -r --arg i "$aa" '.details[$i]' "$R" | grep -q "Person (BSN)	*$bsn\|Person (BSN)\s*$bsn" ||
		jq -r --arg i "$aa" '.details[$i]' "$R" | grep -q "$bsn" || fail "Westland's page does not show the BSN"
	R=$PAGE/$N/result.json
	jq -r '.details[]' "$R" | grep -q "$bsn" && fail "the inspectorate's page shows the BSN"
	jq -r --arg i "$aa" '.details[$i]' "$R" | grep -q "your grant does not include the BSN" || fail "no word that the BSN is withheld"
	jq -r .header "$R" | grep -q 'does not include the BSN' || fail "the header does not say the grant lacks the BSN"
}

test_feedback_on_the_page_is_in_schakel_feedback() {
	saved $W
	id=$(cat ob)
	jq -e '.feedback.message | test("^Saved as feedback [0-9]+\\.$")' "$R" >/dev/null || fail "the page said: $(jq .feedback "$R")"
	jq -e '.feedback.row.state == "confirmed" and .feedback.afterReload.state == "confirmed"' "$R" >/dev/null ||
		fail "the state after feedback and after a reload: $(jq -c .feedback "$R")"
	grep -qx "$W|$id|bevestigd|huisbezoek op de pagina — één" feedback.rows || fail "no such feedback row: $(cat feedback.rows)"
	awk '$1 == "OVERBEWONING"' feedback.txt | grep -q . || fail "schakel feedback: $(cat feedback.txt)"
	grep -E '^OVERBEWONING' feedback.txt | grep -qw 1 || fail "schakel feedback does not count it: $(cat feedback.txt)"
	# Before it, the signal was open, and the filter for open signals had it.
	jq -e --arg i "$id" '.byState.open | index($i) != null' "$R" >/dev/null || fail "the open filter lacked the signal"
	note "schakel feedback: $(grep -E '^OVERBEWONING' feedback.txt | tr -s ' ')"
}

test_a_cross_site_form_cannot_give_feedback() {
	saved $W
	jq -e '.crossSite.status == 415' "$R" >/dev/null || fail "the cross-site form got $(jq -c .crossSite "$R")"
	grep -q onterecht feedback.rows && fail "the cross-site form's feedback was stored"
	[ "$(wc -l <feedback.rows)" -eq 1 ] || fail "feedback rows: $(cat feedback.rows)"
}

test_another_partys_signal_is_not_reachable() {
	saved $N
	gv=$(cat gv)
	jq -e --arg i "$gv" '.rows | map(.id) | index($i) == null' "$R" >/dev/null || fail "the inspectorate's list has GEEN_VERGUNNING $gv"
	jq -e '.foreign.state == "missing"' "$R" >/dev/null || fail "the page showed it: $(jq -c .foreign "$R")"
	jq -r .foreign.text "$R" | grep -q "There is no signal $gv in the inbox of Nederlandse Arbeidsinspectie" || fail "$(jq -r .foreign.text "$R")"
	jq -e '.foreign.fetch.status == 404' "$R" >/dev/null || fail "feedback on it from the page: $(jq -c .foreign.fetch "$R")"
	grep -q "^$N|" feedback.rows && fail "the inspectorate's feedback was stored"
	true
}

tt "the daemon with data; the analyst's page in Chromium (playwright-core) for Westland and the inspectorate" test_daemon_with_data_and_the_page_for_two_parties
tt "the page loads with a strict Content-Security-Policy, no console errors, and names the party" test_the_page_loads_with_a_strict_csp_and_no_console_errors
tt "the page's list is the inbox API's, newest first; the rule filter selects as the API says" test_the_list_is_the_inbox_newest_first_and_filters_by_rule
tt "a signal's detail gives its reason with the rule's threshold and its evidence in words" test_each_signal_shows_its_evidence_in_words
tt "the BSN is on the page only for a party with receive_bsn" test_the_bsn_is_shown_only_with_receive_bsn
tt "feedback given on the page is stored and counted by schakel feedback" test_feedback_on_the_page_is_in_schakel_feedback
tt "a cross-site form POST with the browser's certificate cannot give feedback (415)" test_a_cross_site_form_cannot_give_feedback
tt "another party's signal is not reachable by its id, nor feedback on it" test_another_partys_signal_is_not_reachable
