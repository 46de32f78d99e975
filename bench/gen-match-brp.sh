#!/bin/bash
# gen-match-brp.sh N [SEED] - a StUF-BG npsLa01 extract of N registrations for
# the match benchmark, deterministically, on stdout.  Persons live at the
# addresses of bench/gen-lib.awk (which overlap the housing register of
# gen-match-huisvesting.sh), in three municipalities; every tenth person also
# has an older registration elsewhere, every fiftieth a future one (after the
# benchmark's --as-of date), so "current registration" has work to do.
set -eu
n=${1:?usage: gen-match-brp.sh N [SEED]}
seed=${2:-1}
here=$(dirname "$0")
exec awk -v n="$n" -v seed="$seed" -f "$here/gen-lib.awk" -f /dev/stdin <<'AWK'
function obj(bsn, a, date) {
	printf "<BG:object StUF:entiteittype=\"NPS\"><BG:inp.bsn>%s</BG:inp.bsn><BG:geslachtsnaam>Achternaam</BG:geslachtsnaam><BG:verblijfsadres>", bsn
	if (a % 3 != 0) printf "<BG:aoa.identificatie>%s</BG:aoa.identificatie>", nad(a)
	printf "<BG:aoa.postcode>%s</BG:aoa.postcode><BG:aoa.huisnummer>%d</BG:aoa.huisnummer>", pc(a), nr(a)
	if (letter(a) != "") printf "<BG:aoa.huisletter>%s</BG:aoa.huisletter>", letter(a)
	if (toev(a) != "") printf "<BG:aoa.huisnummertoevoeging>%s</BG:aoa.huisnummertoevoeging>", toev(a)
	printf "<BG:begindatumVerblijf>%s</BG:begindatumVerblijf></BG:verblijfsadres><BG:inp.gemeenteVanInschrijving>%s</BG:inp.gemeenteVanInschrijving></BG:object>\n", date, gem(a)
	made++
}
BEGIN {
	D = int(3 * n / 10); if (D < 1) D = 1
	A = int(11 * D / 10)
	print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	print "<BG:npsLa01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\" xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">"
	print "<BG:stuurgegevens><StUF:berichtcode>La01</StUF:berichtcode><StUF:zender><StUF:organisatie>1783</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>20261101080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS</StUF:entiteittype></BG:stuurgegevens>"
	print "<BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag></BG:parameters>"
	print "<BG:antwoord>"
	bsn_init(seed)
	made = 0
	for (p = 0; made < n; p++) {
		bsn = bsn_next()
		if (p % 10 == 0 && made < n)
			obj(bsn, paddr(p + 7777777, A), sprintf("2019%02d%02d", 1 + h(p, 6, 12), 1 + h(p, 7, 28)))
		if (p % 50 == 7 && made < n)
			obj(bsn, paddr(p + 5555555, A), "20270201")
		if (made < n)
			obj(bsn, paddr(p, A), sprintf("%d%02d%02d", 2020 + h(p, 5, 6), 1 + h(p, 8, 12), 1 + h(p, 9, 28)))
	}
	print "</BG:antwoord>"
	print "</BG:npsLa01>"
}
AWK
