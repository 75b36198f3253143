#!/bin/bash
# Builds gocnictl offline, in GOPATH mode, against Debian's go-cni (golang-github-containerd-go-cni-dev).
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-../../build/gocnictl}
mkdir -p "$(dirname "$out")"
GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE=${GOCACHE:-/tmp/cni-ts-gocache} CGO_ENABLED=0 \
  go build -o "$out" main.go
