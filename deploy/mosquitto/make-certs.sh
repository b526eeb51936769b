#!/bin/sh
# Create a private CA and a broker certificate for the TLS listener.
# Usage: make-certs.sh OUTDIR HOSTNAME [IP]     (e.g. make-certs.sh /etc/mosquitto/certs mqtt.example.vn)
# Writes ca.crt, ca.key (keep offline), server.crt, server.key. Edge nodes get ca.crt only.
set -eu
out=$1; host=$2; ip=${3:-127.0.0.1}
mkdir -p "$out"; cd "$out"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=traffic-monitor CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$host" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n' "$host" "$ip" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 600 ca.key server.key
echo "certificates in $out"
