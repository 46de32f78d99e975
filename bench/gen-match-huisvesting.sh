#!/bin/bash
# gen-match-huisvesting.sh N - the housing register (CSV) for the match
# benchmark at scale N registrations: 3N/10 dwellings, addresses 0..3N/10-1 of
# bench/gen-lib.awk, deterministically, on stdout.  Floor areas 25-174 m2 (5%
# unknown), a tenth with max_bewoners, permits for 1783 addresses mostly
# (some expired before the benchmark's --as-of date 2026-11-01).
set -eu
n=${1:?usage: gen-match-huisvesting.sh N}
here=$(dirname "$0")
exec awk -v n="$n" -f "$here/gen-lib.awk" -f /dev/stdin <<'AWK'
BEGIN {
	D = int(3 * n / 10); if (D < 1) D = 1
	print "gemeentecode;nummeraanduiding_id;postcode;huisnummer;huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;vergunning_nummer;vergunning_geldig_tot"
	for (a = 0; a < D; a++) {
		opp = h(a, 11, 100) < 5 ? "" : 25 + h(a, 12, 150)
		maxb = h(a, 13, 10) == 0 ? 2 + h(a, 14, 8) : ""
		r = h(a, 15, 100)
		if (gem(a) == "1783" && r < 60)
			verg = sprintf("V-2025-%07d;%s", a, r < 50 ? "2027-12-31" : "2026-06-30")
		else
			verg = ";"
		doel = h(a, 16, 20) == 0 ? "logiesfunctie" : "woonfunctie"
		printf "%s;%s;%s;%d;%s;%s;Plaats;%s;%s;%s;%s\n", gem(a), a % 2 ? nad(a) : "", pc(a), nr(a), letter(a), toev(a), opp, doel, maxb, verg
	}
}
AWK
