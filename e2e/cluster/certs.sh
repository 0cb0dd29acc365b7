#!/usr/bin/env bash
# The local control plane's PKI, made with openssl on every `cluster.sh up` (nothing reused
# between clusters, so a leaked key is worth one throwaway cluster).
#
#   e2e/cluster/certs.sh all PKI_DIR SERVICE_IP [SAN]    the whole set below (SAN: one more
#                                                        subjectAltName of the apiserver)
#   e2e/cluster/certs.sh client PKI_DIR NAME CN [ORG...] one more client certificate, signed by
#                                                        PKI_DIR/ca.key, as PKI_DIR/NAME.{crt,key}
#
# One CA signs everything: etcd's serving certificate (also its peer and gateway client
# certificate, hence both key usages), the apiserver's client certificate for etcd, the
# apiserver's serving certificate, and the admin client certificate (O=system:masters, which
# RBAC lets do anything). The service-account key pair signs and verifies ServiceAccount
# tokens. A second CA, front-proxy-ca, signs only the apiserver's front-proxy client
# certificate: aggregated API servers (bulwark-controller's recordings API) trust the user
# headers of a request only when it carries a certificate of that CA, so it must not be the CA
# every client certificate comes from.
# Keys are ECDSA P-256: quick to make, and accepted by Go, OpenSSL and GnuTLS alike.
set -euo pipefail

DAYS=${CERT_DAYS:-365}

die() {
	printf 'certs: error: %s\n' "$*" >&2
	exit 1
}

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# subject CN ORG...: an openssl -subj string; organizations first, as Kubernetes expects.
subject() {
	local cn=$1 s="" o
	shift
	for o in "$@"; do
		s+="/O=$o"
	done
	printf '%s/CN=%s' "$s" "$cn"
}

# sign PKI NAME SUBJECT EXTENDED_KEY_USAGE [SAN]: PKI/NAME.key and PKI/NAME.crt, signed by
# PKI/$CA.{crt,key} (CA=ca unless set).
sign() {
	local pki=$1 name=$2 subj=$3 eku=$4 san=${5:-} ca=${CA:-ca}
	newkey "$pki/$name.key"
	{
		printf 'basicConstraints = critical, CA:FALSE\n'
		printf 'keyUsage = critical, digitalSignature, keyEncipherment\n'
		printf 'extendedKeyUsage = %s\n' "$eku"
		printf 'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n'
		[ -z "$san" ] || printf 'subjectAltName = %s\n' "$san"
	} >"$pki/$name.ext"
	openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -extfile "$pki/$name.ext" \
		-out "$pki/$name.crt" 2>/dev/null || die "signing $name failed"
	rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# make_ca PKI [NAME]: PKI/NAME.{key,crt} (NAME=ca), a self-signed CA.
make_ca() {
	local pki=$1 name=${2:-ca}
	newkey "$pki/$name.key"
	# A private config, so the distribution's openssl.cnf cannot add or duplicate extensions.
	cat >"$pki/$name.cnf" <<-EOF
		[req]
		distinguished_name = dn
		x509_extensions = ca
		prompt = no
		[dn]
		CN = bulwark-e2e-$name
		[ca]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign, digitalSignature
		subjectKeyIdentifier = hash
	EOF
	openssl req -x509 -new -key "$pki/$name.key" -config "$pki/$name.cnf" -days "$DAYS" \
		-set_serial "0x$(openssl rand -hex 16)" -out "$pki/$name.crt" 2>/dev/null || die "making the CA $name failed"
	rm -f "$pki/$name.cnf"
}

all() {
	local pki=$1 service_ip=$2 extra=${3:+, $3}
	mkdir -p "$pki"
	chmod 700 "$pki"
	umask 077
	make_ca "$pki"
	sign "$pki" etcd-server "$(subject etcd-server)" "serverAuth, clientAuth" \
		"DNS:localhost, IP:127.0.0.1, IP:::1"
	sign "$pki" etcd-client "$(subject kube-apiserver-etcd-client)" clientAuth
	sign "$pki" apiserver "$(subject kube-apiserver)" serverAuth \
		"DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:127.0.0.1, IP:::1, IP:$service_ip$extra"
	sign "$pki" admin "$(subject kubernetes-admin system:masters)" clientAuth
	make_ca "$pki" front-proxy-ca
	CA=front-proxy-ca sign "$pki" front-proxy-client "$(subject front-proxy-client)" clientAuth
	newkey "$pki/sa.key"
	openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	# Certificates are public; letting other users read them helps tools that drop privileges.
	chmod 644 "$pki"/*.crt "$pki/sa.pub"
}

case ${1:-} in
all)
	(($# == 3 || $# == 4)) || die "usage: certs.sh all PKI_DIR SERVICE_IP [SAN]"
	all "$2" "$3" "${4:-}"
	;;
client)
	(($# >= 4)) || die "usage: certs.sh client PKI_DIR NAME CN [ORG...]"
	[ -r "$2/ca.key" ] || die "no CA key in $2"
	[[ $3 =~ ^[A-Za-z0-9._-]+$ ]] || die "certificate name '$3' must be [A-Za-z0-9._-]+"
	pki=$2 name=$3 cn=$4
	shift 4
	umask 077
	sign "$pki" "$name" "$(subject "$cn" "$@")" clientAuth
	chmod 644 "$pki/$name.crt"
	printf '%s\n%s\n' "$pki/$name.crt" "$pki/$name.key"
	;;
*) die "usage: certs.sh all PKI_DIR SERVICE_IP | client PKI_DIR NAME CN [ORG...]" ;;
esac
