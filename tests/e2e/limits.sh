#!/bin/bash
# [ingest] max_attributes (issue 13.3): the brp adapter counts the
# attributes of each start tag before libxml2 parses it (brp_scan.c), so
# that a file with too many is refused at once instead of after libxml2's
# quadratic duplicate-attribute check.  The catalogue (cases.txt) has the
# 200,000-attribute, 100,000-namespace and 100 MB attribute files; here:
# the limit is configurable, and what only looks like attributes (an '='
# in a value, a comment, a processing instruction, a CDATA section) is not
# counted.
. "$(dirname "$0")/lib.sh"

# brp_with SED-EXPR: the sample BRP file with SED-EXPR applied, as ./in.xml
brp_with() {
	sed "$1" "$FIX/brp-npsLa01.xml" >in.xml
}

limit_configurable() {
	init_example || fail "init"
	sed -i 's/^max_attributes = .*/max_attributes = 2/' "$D/schakel.conf"
	grep -qx 'max_attributes = 2' "$D/schakel.conf" || fail "no max_attributes in schakel.conf"
	brp_with '22s|StUF:entiteittype="NPS"|StUF:entiteittype="NPS" StUF:a="1" StUF:b="2"|'
	expect_rc 1 sk ingest brp in.xml
	contains "$TMP/cmd.out" "line 22: more than 2 attributes on one element ([ingest] max_attributes)"
	contains "$TMP/cmd.out" "refused, nothing stored"
	[ "$(db 'SELECT count(*) FROM person')" -eq 0 ] || fail "persons were stored"
	# The root's two namespace declarations are two attributes: at the limit.
	expect_rc 3 sk ingest brp "$FIX/brp-npsLa01.xml"
	sed -i 's/^max_attributes = .*/max_attributes = 1/' "$D/schakel.conf"
	expect_rc 1 sk ingest brp "$FIX/brp-npsLa01.xml"
	# (the root's start tag runs over lines 2-3; its second declaration, the
	# one over the limit, is on line 3)
	contains "$TMP/cmd.out" "line 3: more than 1 attributes on one element"
	sed -i 's/^max_attributes = .*/max_attributes = 0/' "$D/schakel.conf"
	expect_rc 1 sk ingest brp "$FIX/brp-npsLa01.xml"
	contains "$TMP/cmd.out" "max_attributes"
}

lookalikes_not_counted() {
	local eqs
	init_example || fail "init"
	sed -i 's/^max_attributes = .*/max_attributes = 2/' "$D/schakel.conf"
	eqs=$(printf ' a%d=b' $(seq 100))
	brp_with "1a<!--$eqs -->\n<?pi $eqs ?>
		22s|StUF:entiteittype=\"NPS\"|StUF:entiteittype=\"N${eqs// /=}S\"|
		22a<!-- <BG:x $eqs> --><![CDATA[<BG:x $eqs>]]>"
	expect_rc 3 sk ingest brp in.xml
	! grep -q "max_attributes" "$TMP/cmd.out" || fail "counted what is no attribute"
	contains "$TMP/cmd.out" "line 24 (object 1)"
	contains "$TMP/cmd.out" ": 7 accepted"
}

t "[ingest] max_attributes is configurable; over it the file is refused" limit_configurable
t "'=' in values, comments, processing instructions and CDATA is not counted" lookalikes_not_counted
