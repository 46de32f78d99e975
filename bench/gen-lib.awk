# bench/gen-lib.awk - what the match-data generators share (gen-match-*.sh):
# a portable pseudo-random sequence, the address scheme and the persons.
# Deterministic under mawk and gawk alike: no rand(), no floating point
# beyond 2^53.
#
# Scale N (registrations):  dwellings D = 3N/10 at addresses 0..D-1,
# persons live at addresses 0..(11D/10)-1 (so ~9% of registered addresses have
# no housing-register row), findings F = N/10, mostly at dwelling addresses.

# A hash built from Park-Miller steps and a modular squaring (which is what
# makes it non-linear), in doubles that stay below 2^53.
function lcg_next(x) { return (x * 16807) % 2147483647 }
function mulmod(a, b) { return ((a * int(b / 65536)) % 2147483647 * 65536 + a * (b % 65536)) % 2147483647 }
function mix(x,   y) { y = lcg_next(x); y = mulmod(y, y + 12345) + 1; y = lcg_next(y); return mulmod(y, y + 54321) }
# a hash of the integer i (with a salt) to 0..m-1
function h(i, salt, m) { return int(mix((i * 7 + salt * 104729) % 2147483646 + 1) / 2147483647 * m) }

# The address with index a: four municipalities, the last (0599) delivers no BRP.
function gem(a)    { return substr("1783098303630599", 1 + 4 * (a % 4), 4) }
function pc(a)     { return sprintf("%04d%c%c", 1000 + int(a / 4) % 9000, 65 + int(a / 36000) % 26, 65 + int(a / 936000) % 26) }
function nr(a)     { return 1 + 4 * h(int(a / 4), 3, 50) + a % 4 }
function letter(a) { return (a % 10 == 3) ? "A" : "" }
function toev(a)   { return (a % 17 == 5) ? "2" : "" }
function nad(a)    { return sprintf("%s20%010d", gem(a), a) }

# The k-th valid BSN of the sequence (k from 1), as gen-brp.sh makes them:
# call bsn_init(seed) once, then bsn_next() returns them in order.
function bsn_init(seed) { bsn_base = 20000000 + seed * 7919; bsn_i = 0 }
function bsn_next(   b, s, k, d) {
	for (;;) {
		b = sprintf("%08d", (bsn_base + bsn_i++ * 13) % 100000000)
		s = 0
		for (k = 1; k <= 8; k++) s += (10 - k) * substr(b, k, 1)
		d = s % 11
		if (d == 10 || b d == "000000000") continue
		return b d
	}
}

# Person p (from 0): the address of the current registration; persons 0599
# addresses are moved to the neighbouring index (0599 has no BRP).
function paddr(p, A,   a) { a = h(p, 1, A); if (a % 4 == 3) a--; if (a < 0) a = 0; return a }
