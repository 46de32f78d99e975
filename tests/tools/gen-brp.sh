#!/bin/bash
# gen-brp.sh N [SEED] - writes a StUF-BG npsLa01 extract of N persons with
# valid BSNs to stdout, deterministically (the same N and SEED give the same
# file).  Persons live two to six to an address in gemeente 1783.
set -eu
n=${1:?usage: gen-brp.sh N [SEED]}
seed=${2:-1}
awk -v n="$n" -v seed="$seed" 'BEGIN {
	print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	print "<BG:npsLa01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\" xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">"
	print "<BG:stuurgegevens><StUF:berichtcode>La01</StUF:berichtcode><StUF:zender><StUF:organisatie>1783</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>20261101080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS</StUF:entiteittype></BG:stuurgegevens>"
	print "<BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag></BG:parameters>"
	print "<BG:antwoord>"
	base = 10000000 + seed * 7919
	made = 0
	for (i = 0; made < n; i++) {
		b = sprintf("%08d", (base + i * 13) % 100000000)
		s = 0
		for (k = 1; k <= 8; k++) s += (10 - k) * substr(b, k, 1)
		d = s % 11
		if (d == 10) continue
		bsn = b d
		if (bsn == "000000000") continue
		made++
		a = int(made / 4)
		pc = sprintf("%04d%c%c", 1000 + (a % 9000), 65 + int(a / 9000) % 26, 65 + int(a / 234000) % 26)
		nr = 1 + (a % 7)
		printf "<BG:object StUF:entiteittype=\"NPS\"><BG:inp.bsn>%s</BG:inp.bsn><BG:geslachtsnaam>Achternaam</BG:geslachtsnaam><BG:verblijfsadres><BG:aoa.postcode>%s</BG:aoa.postcode><BG:aoa.huisnummer>%d</BG:aoa.huisnummer><BG:begindatumVerblijf>2024%02d%02d</BG:begindatumVerblijf></BG:verblijfsadres><BG:inp.gemeenteVanInschrijving>1783</BG:inp.gemeenteVanInschrijving></BG:object>\n", bsn, pc, nr, 1 + made % 12, 1 + made % 28
	}
	print "</BG:antwoord>"
	print "</BG:npsLa01>"
}'
