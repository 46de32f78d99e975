#!/bin/bash
# gen-latency-brp.sh N RUN - a StUF-BG npsLa01 upload of 100 new persons for
# the signal-latency benchmark, on stdout: 20 persons each at five dwellings
# of Westland (gemeente 1783) in the match data of scale N (bench/gen-lib.awk),
# so that the upload raises signals at those addresses (OVERBEWONING at the
# least: 20 persons in at most 174 m2).  RUN picks other addresses and other
# BSNs, so that each timed run raises signals of its own.
set -eu
n=${1:?usage: gen-latency-brp.sh N RUN}
run=${2:?usage: gen-latency-brp.sh N RUN}
here=$(dirname "$0")
exec awk -v n="$n" -v run="$run" -f "$here/gen-lib.awk" -f /dev/stdin <<'AWK'
BEGIN {
	D = int(3 * n / 10)
	print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	print "<BG:npsLa01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\" xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">"
	print "<BG:stuurgegevens><StUF:berichtcode>La01</StUF:berichtcode><StUF:zender><StUF:organisatie>1783</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>20261201080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS</StUF:entiteittype></BG:stuurgegevens>"
	print "<BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag></BG:parameters>"
	print "<BG:antwoord>"
	bsn_init(1000 + run)	# far from the installation's seed 1
	for (k = 0; k < 100; k++) {
		a = 4 * (7919 * (5 * run + int(k / 20) + 1) % int(D / 4))	# a dwelling, gemeente 1783
		printf "<BG:object StUF:entiteittype=\"NPS\"><BG:inp.bsn>%s</BG:inp.bsn><BG:geslachtsnaam>Nieuw</BG:geslachtsnaam><BG:verblijfsadres>", bsn_next()
		if (a % 3 != 0) printf "<BG:aoa.identificatie>%s</BG:aoa.identificatie>", nad(a)
		printf "<BG:aoa.postcode>%s</BG:aoa.postcode><BG:aoa.huisnummer>%d</BG:aoa.huisnummer>", pc(a), nr(a)
		if (letter(a) != "") printf "<BG:aoa.huisletter>%s</BG:aoa.huisletter>", letter(a)
		if (toev(a) != "") printf "<BG:aoa.huisnummertoevoeging>%s</BG:aoa.huisnummertoevoeging>", toev(a)
		printf "<BG:begindatumVerblijf>20261115</BG:begindatumVerblijf></BG:verblijfsadres><BG:inp.gemeenteVanInschrijving>1783</BG:inp.gemeenteVanInschrijving></BG:object>\n"
	}
	print "</BG:antwoord>"
	print "</BG:npsLa01>"
}
AWK
