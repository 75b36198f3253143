#!/bin/bash
# Installs everything cni-ts builds and tests with, on a fresh Debian machine: apt packages
# (only the missing ones), npm dependencies (npm ci, which also builds the netns-native addon).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  iproute2                     # ip: test namespaces and assertions
  nftables                     # nft: the firewall backend
  iputils-ping                 # ping: traffic in tests
  containernetworking-plugins  # /usr/lib/cni: the reference plugins (oracle and bench peer)
  time                         # /usr/bin/time: peak RSS in benchmarks
  make g++ python3             # node-gyp
  gcc file                     # build/launcher (cc); file: the launcher test checks it is static
  user-mode-linux kmod         # the guest kernel for ipvlan/802.1q/dummy tests (../shared/vm)
  util-linux                   # pivot_root, for that guest
  golang-go golang-github-appc-cni-dev   # test/libcni-client: a real libcni runtime
  golang-github-containerd-go-cni-dev    # test/gocni-client: go-cni, as containerd and nerdctl call plugins
  netavark aardvark-dns                  # bench peers: podman's own network backend
  containerd                             # bench: a pod's sandbox through containerd's CRI
  dnsmasq-base bind9-dnsutils dnsperf    # dns-hosts: upstream in tests, dig, DNS bench peer and load
  etcd-server etcd-client openssl        # vxlan-overlay: the cluster store its tests start, TLS certificates
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  [[ $p == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -f shared/netns-native/build/Release/netns_native.node ]; then
  npm ci --no-fund --no-audit
fi

# podman 4.3 on its CNI backend with a local busybox image, for test/integration/podman.test.ts
# (../shared/podman: provided beside the project; idempotent, quiet unless it fails)
if [ -x ../shared/podman/setup.sh ]; then
  log=$(mktemp)
  if ! bash ../shared/podman/setup.sh >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; exit 1; fi
  rm -f "$log"
fi
