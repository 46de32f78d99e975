#!/bin/bash
# gen-match-inspectie.sh N [SEED] - the inspectorate findings (JSON) for the
# match benchmark at scale N registrations: N/10 findings, deterministically,
# on stdout.  9 in 10 are soort huisvesting; 9 in 10 are dated within the
# 365-day window before 2026-11-01 (the rest in 2024); 9 in 10 are at an
# address of the housing register, the rest at addresses no source knows;
# 3 in 10 name one to three persons (BSNs of gen-match-brp.sh N SEED), half
# of them persons registered at that address, half persons registered
# elsewhere (these raise ADRES_AFWIJKING).
set -eu
n=${1:?usage: gen-match-inspectie.sh N [SEED]}
seed=${2:-1}
here=$(dirname "$0")
exec awk -v n="$n" -v seed="$seed" -f "$here/gen-lib.awk" -f /dev/stdin <<'AWK'
BEGIN {
	D = int(3 * n / 10); if (D < 1) D = 1
	A = int(11 * D / 10)
	F = int(n / 10); if (F < 1) F = 1
	# the persons of gen-match-brp.sh, and one person registered at each address
	bsn_init(seed)
	made = 0
	for (p = 0; made < n; p++) {
		bsn[p] = bsn_next()
		made += 1 + (p % 10 == 0) + (p % 50 == 7)
		a = paddr(p, A)
		if (!(a in at)) at[a] = p
	}
	P = p
	make_dates()
	print "{\"bevindingen\": ["
	for (i = 0; i < F; i++) {
		r = h(i, 21, 10)
		a = r == 0 ? A + h(i, 22, D) : h(i, 23, D)
		soort = h(i, 24, 10) == 0 ? "werkplek" : "huisvesting"
		if (h(i, 25, 10) == 0)
			datum = sprintf("2024-%02d-%02d", 1 + h(i, 26, 12), 1 + h(i, 27, 28))
		else {
			datum = dates[1 + h(i, 28, 364)]
		}
		found = 1 + h(i, 29, 12)
		pers = ""
		if (h(i, 30, 10) < 3) {
			k = 1 + h(i, 31, 3)
			for (j = 0; j < k; j++) {
				if (j % 2 == 0 && (a in at)) q = at[a]
				else q = h(i * 3 + j, 32, P)
				if (index(pers, bsn[q])) continue
				pers = pers (pers == "" ? "" : ", ") "{\"bsn\": \"" bsn[q] "\"}"
			}
			if (found < k) found = k
		}
		printf "  {\"id\": \"NLA-2026-%07d\", \"datum\": \"%s\", \"soort\": \"%s\", \"werkgever\": {\"kvk\": \"%08d\", \"naam\": \"Uitzendbureau\"}, \"adres\": {\"gemeentecode\": \"%s\", \"postcode\": \"%s\", \"huisnummer\": %d, \"huisletter\": \"%s\", \"huisnummertoevoeging\": \"%s\"}, \"aangetroffen_personen\": %d, \"personen\": [%s]}%s\n", i, datum, soort, 10000000 + h(i, 33, 90000000), gem(a), pc(a), nr(a), letter(a), toev(a), found, pers, i + 1 < F ? "," : ""
	}
	print "], \"volgende\": null}"
}
# dates[d]: the date d days before 2026-11-01, d in 1..364
function make_dates(   md, y, m, dd, d) {
	split("31 28 31 30 31 30 31 31 30 31 30 31", md, " ")
	y = 2026; m = 11; dd = 1
	for (d = 1; d <= 364; d++) {
		if (--dd < 1) { if (--m < 1) { m = 12; y-- } dd = md[m] }
		dates[d] = sprintf("%d-%02d-%02d", y, m, dd)
	}
}
AWK
