#!/bin/bash
# Builds one of the Go runtime clients the tests drive plugins with, offline, in GOPATH mode,
# against Debian's packaged Go libraries (libcni: golang-github-appc-cni-dev; go-cni:
# golang-github-containerd-go-cni-dev).   test/go-client.sh DIR OUT   (DIR holds main.go)
set -euo pipefail
dir=$1 out=$2
mkdir -p "$(dirname "$out")"
cd "$dir"
GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE=${GOCACHE:-/tmp/cni-ts-gocache} CGO_ENABLED=0 \
  go build -o "$out" main.go
