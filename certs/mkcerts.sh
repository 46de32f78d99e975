#!/bin/bash
# certs/mkcerts.sh - makes a development PKI for schakel with the openssl CLI.
#
#   certs/mkcerts.sh OUTDIR [OIN[:NAME]]...     a CA, a server certificate and
#                                               one certificate per party
#   certs/mkcerts.sh OUTDIR --revoke OIN        revokes a party's certificate
#                                               and writes OUTDIR/crl.pem anew
#
# Party certificates carry the party's 20-digit OIN in the subject's
# serialNumber attribute, as PKIoverheid certificates do; that is how the
# broker knows who connects.  The server certificate is for localhost and
# 127.0.0.1.  Keys are P-256 EC keys, written with mode 0600.  Nothing made
# here is for production, and no private key belongs in the repository.
set -euo pipefail

out=${1:?usage: mkcerts.sh OUTDIR [OIN[:NAME]]... | OUTDIR --revoke OIN}
shift
mkdir -p "$out"
chmod 700 "$out"
cd "$out"
umask 077

cnf() {	# the minimal `openssl ca` set-up that a CRL needs
	[ -f ca.cnf ] && return
	touch index.txt
	echo 1000 >crlnumber
	cat >ca.cnf <<'CNF'
[ca]
default_ca = dev
[dev]
database = index.txt
crlnumber = crlnumber
certificate = ca.crt
private_key = ca.key
default_md = sha256
default_crl_days = 3650
CNF
}

key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt, signed by the CA
sign() {
	key "$1.key"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
	printf '%b' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days 825 -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
	chmod 644 "$1.crt"
}

crl() {
	cnf
	openssl ca -config ca.cnf -gencrl -out crl.pem 2>/dev/null
	chmod 644 crl.pem
}

if [ "${1:-}" = --revoke ]; then
	oin=${2:?--revoke needs an OIN}
	cnf
	openssl ca -config ca.cnf -revoke "party-$oin.crt" 2>/dev/null
	crl
	echo "revoked party-$oin.crt; $out/crl.pem written"
	exit 0
fi

if [ ! -f ca.crt ]; then
	key ca.key
	openssl req -x509 -new -key ca.key -sha256 -days 3650 \
		-subj "/C=NL/O=schakel development/CN=schakel development CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt 2>/dev/null
	chmod 644 ca.crt
fi
if [ ! -f server.crt ]; then
	sign server "/C=NL/O=schakel development/serialNumber=00000001000000000001/CN=localhost" \
		"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
fi
for spec in "$@"; do
	oin=${spec%%:*}
	name=${spec#*:}
	[ "$name" = "$spec" ] && name="party $oin"
	[[ $oin =~ ^[0-9]{20}$ ]] || { echo "mkcerts.sh: '$oin' is not a 20-digit OIN" >&2; exit 2; }
	[ -f "party-$oin.crt" ] && continue
	sign "party-$oin" "/C=NL/O=$name/serialNumber=$oin/CN=$name" \
		"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
done
[ -f crl.pem ] || crl
echo "development PKI in $out: ca.crt, server.crt, crl.pem and $# party certificate(s)"
