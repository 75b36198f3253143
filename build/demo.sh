#!/bin/bash
# The demo: loopback (Docker's `none` network) ADD, CHECK, DEL through the built executable,
# in a namespace made for the demo and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=cnits-demo-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
conf='{"cniVersion":"1.1.0","name":"none","type":"loopback"}'
run() { CNI_COMMAND=$1 CNI_CONTAINERID=demo CNI_NETNS=/run/netns/$ns CNI_IFNAME=lo CNI_PATH=$PWD/build/bin build/bin/loopback <<<"$conf"; }
echo "== container namespace before ADD"; ip -n "$ns" addr
echo "== ADD result"; run ADD
echo "== container namespace after ADD"; ip -n "$ns" addr
echo "== CHECK"; run CHECK && echo "CHECK passed"
echo "== DEL"; run DEL && echo "DEL done"; ip -n "$ns" link show lo
