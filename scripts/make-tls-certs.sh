#!/usr/bin/env bash
# Makes a CA and the three certificates of a static-TLS EtcdCluster, with the
# file names the CoreOS operator documented:
#   <out>/peer/{peer.crt,peer.key,peer-ca.crt}
#   <out>/server/{server.crt,server.key,server-ca.crt}
#   <out>/operator/{etcd-client.crt,etcd-client.key,etcd-client-ca.crt}
# then prints the kubectl commands that turn them into Secrets.
#
# usage: scripts/make-tls-certs.sh CLUSTER NAMESPACE OUTDIR [CLUSTER_DOMAIN] [EXTRA_SAN...]
#   CLUSTER_DOMAIN with its leading dot, e.g. .cluster.local (default)
#   EXTRA_SAN e.g. IP:203.0.113.10 or DNS:etcd.example.com for a LoadBalancer
#   PEER_EXTRA_SANS (environment), comma-separated, e.g. IP:127.0.0.1 for
#   members that reach each other from loopback in a test
#
# etcd checks a peer's certificate against the address it connects from: a
# wildcard DNS name matches when the reverse lookup of that address gives a
# member name. In Kubernetes the headless peer Service provides those PTR
# records (CoreDNS serves in-addr.arpa for the cluster by default).
set -euo pipefail
cluster=$1 namespace=$2 out=$3 domain=${4-.cluster.local}
shift $(( $# < 4 ? $# : 4 ))
extra=("$@")
days=3650
mkdir -p "$out"/{ca,peer,server,operator}

openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=${cluster}-etcd-ca" \
  -keyout "$out/ca/ca.key" -out "$out/ca/ca.crt" 2>/dev/null

# sign NAME DIR CERT KEY USAGE SAN...
sign () {
  local name=$1 dir=$2 cert=$3 key=$4 usage=$5; shift 5
  local sans; sans=$(IFS=,; echo "$*")
  openssl req -newkey rsa:2048 -nodes -subj "/CN=${name}" -keyout "$dir/$key" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$out/ca/ca.crt" -CAkey "$out/ca/ca.key" -CAcreateserial \
    -days "$days" -out "$dir/$cert" \
    -extfile <(printf 'extendedKeyUsage=%s\n%s\n' "$usage" "${sans:+subjectAltName=$sans}") 2>/dev/null
  rm -f "$dir/$name.csr"
}

members="*.${cluster}.${namespace}.svc"
# Peers: every member's name, with and without the cluster domain.
sign "${cluster}-peer" "$out/peer" peer.crt peer.key serverAuth,clientAuth \
  "DNS:${members}" "DNS:${members}${domain}" ${PEER_EXTRA_SANS:+${PEER_EXTRA_SANS//,/ }}
# Clients reach members by name and through the client Services.
sign "${cluster}-server" "$out/server" server.crt server.key serverAuth,clientAuth \
  "DNS:${members}" "DNS:${members}${domain}" \
  "DNS:${cluster}-client" "DNS:${cluster}-client.${namespace}" "DNS:${cluster}-client.${namespace}.svc" \
  "DNS:${cluster}-client.${namespace}.svc${domain}" "DNS:localhost" "IP:127.0.0.1" ${extra[@]+"${extra[@]}"}
# The hook's (and any admin's) client certificate.
sign "${cluster}-operator" "$out/operator" etcd-client.crt etcd-client.key clientAuth

cp "$out/ca/ca.crt" "$out/peer/peer-ca.crt"
cp "$out/ca/ca.crt" "$out/server/server-ca.crt"
cp "$out/ca/ca.crt" "$out/operator/etcd-client-ca.crt"

cat <<KUBECTL
kubectl -n ${namespace} create secret generic ${cluster}-peer-tls --from-file=${out}/peer
kubectl -n ${namespace} create secret generic ${cluster}-server-tls --from-file=${out}/server
kubectl -n ${namespace} create secret generic ${cluster}-operator-tls --from-file=${out}/operator
KUBECTL
