#!/bin/bash
# The demo: Docker's user-defined bridge network story, played with our executables and a real
# libcni runtime (build/cnictl) in network namespaces made for it ("this host", an "outside"
# machine, and one per container) and removed afterwards. Nothing touches the machine's own
# namespace; the outside is reached on TEST-NET addresses that exist only between them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD BIN=$PWD/build/bin CNICTL=$PWD/build/cnictl TRAFFIC=$PWD/test/helpers/traffic.mjs
[ -x "$CNICTL" ] || { echo "demo: build/cnictl is missing (apt-get install golang-go golang-github-appc-cni-dev, then npm run build)"; exit 1; }

id=$$ host=cnits-demo-host-$$ out=cnits-demo-out-$$
work=$(mktemp -d /tmp/cnits-demo-XXXXXX)
containers=()
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for c in "${containers[@]}"; do ip netns del "cnits-demo-$c-$id" 2>/dev/null || true; done
  ip netns del "$out" 2>/dev/null || true
  ip netns del "$host" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '  $ %s\n' "$*"; }
inhost() { ip netns exec "$host" "$@"; }

# the runtime: libcni (as containerd, nerdctl and podman's CNI backend use it)
cni() {   # cni add|del NETWORK CONTAINER [hostPort]
  local caps='{}'
  [ -n "${4:-}" ] && caps="{\"portMappings\":[{\"hostPort\":$4,\"containerPort\":80,\"protocol\":\"tcp\"}]}"
  NETCONFPATH=$work/net.d CNI_PATH=$BIN CNI_CACHE_DIR=$work/cache CNI_CONTAINERID="$3-$id" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=$3" CAP_ARGS="$caps" \
    inhost "$CNICTL" "$1" "$2" "/run/netns/cnits-demo-$3-$id"
}
run_container() {   # run_container NAME NETWORK [hostPort]: its namespace, then ADD; sets $addr
  ip netns add "cnits-demo-$1-$id"; containers+=("$1")
  cni add "$2" "$1" "${3:-}" > "$work/$1.json"
  addr=$(addr_of "$1")
}
addr_of() { node -e 'const r=require(process.argv[1]); console.log(r.ips[0].address.split("/")[0])' "$work/$1.json"; }
in_ctr() { local c=$1; shift; ip netns exec "cnits-demo-$c-$id" "$@"; }
ping_ok() { in_ctr "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

say "A host of our own, and an outside machine next to it (192.0.2.1 <-> 192.0.2.2)"
ip netns add "$host"; ip netns add "$out"
ip -n "$host" link set lo up
ip -n "$host" link add uplink type veth peer name eth0 netns "$out"
ip -n "$host" addr add 192.0.2.1/24 dev uplink; ip -n "$host" link set uplink up
ip -n "$out" addr add 192.0.2.2/24 dev eth0; ip -n "$out" link set eth0 up

say "docker network create --subnet 10.77.0.0/24 mynet   (as a CNI conflist: bridge, portmap, firewall, tuning)"
mkdir -p "$work/net.d"
cat > "$work/net.d/10-mynet.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "mynet", "plugins": [
  {"type": "bridge", "bridge": "cni-demo0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$work/ipam", "ranges": [[{"subnet": "10.77.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "firewall", "ingressPolicy": "same-bridge"},
  {"type": "tuning"}]}
JSON
cat > "$work/net.d/20-othernet.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "othernet", "plugins": [
  {"type": "bridge", "bridge": "cni-demo1", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "dataDir": "$work/ipam", "ranges": [[{"subnet": "10.78.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "firewall", "ingressPolicy": "same-bridge"}]}
JSON
show "cat 10-mynet.conflist"; sed 's/^/    /' "$work/net.d/10-mynet.conflist"

say "docker run -d --name web --network mynet -p 8080:80 ...   (ADD through the chain)"
run_container web mynet 8080; web=$addr
echo "  web got $web; in its namespace:"
in_ctr web ip -br addr show eth0 | sed 's/^/    /'
in_ctr web ip route | sed 's/^/    /'
ip netns exec "cnits-demo-web-$id" node "$TRAFFIC" serve tcp 80 >/dev/null 2>&1 &
pids+=($!)

say "docker run -d --name app --network mynet ..."
run_container app mynet; app=$addr
echo "  app got $app"

say "app pings web by IP"
show "ping -c 1 $web   (from app)"
ping_ok app "$web" && echo "  reply from $web: same network, reachable" || { echo "  no reply (unexpected)"; exit 1; }

say "The published port, from the outside machine"
sleep 0.3
show "curl http://192.0.2.1:8080/   (from outside; our server answers with the address it sees)"
seen=$(ip netns exec "$out" node "$TRAFFIC" ask tcp 192.0.2.1 8080) || { echo "  no answer (unexpected)"; exit 1; }
seen=${seen#::ffff:}
echo "  web answered; it saw the client as $seen: DNAT to $web:80 by the portmap elements"

say "docker network create othernet; docker run -d --name other --network othernet ..."
run_container other othernet; other=$addr
echo "  other got $other on othernet (bridge cni-demo1)"
show "ping -c 1 $web   (from other)"
if ping_ok other "$web"; then echo "  reply (unexpected: networks must be isolated)"; exit 1; else echo "  no reply: networks are isolated from each other (firewall, ingressPolicy same-bridge)"; fi

say "What the operator sees: cni-ts ls, cni-ts inspect mynet"
show "cni-ts ls"
NETCONFPATH=$work/net.d inhost "$BIN/cni-ts" ls --cache-dir "$work/cache" | sed 's/^/    /'
show "cni-ts inspect mynet"
NETCONFPATH=$work/net.d inhost "$BIN/cni-ts" inspect mynet --cache-dir "$work/cache" | sed 's/^/    /'

say "docker rm -f web app other   (DEL through the chain, in reverse)"
cni del mynet web 8080; cni del mynet app; cni del othernet other
left=$( { inhost ip -br link | grep -c veth || true; } )
leases=$(find "$work/ipam" -name '10.*' | wc -l)
elements=$(inhost nft list table inet cni-ts 2>/dev/null | grep -c "id=.*-$id\"" || true)
echo "  veths left: $left, leases left: $leases, firewall elements left: $elements"
[ "$left$leases$elements" = 000 ] || { echo "  something was left behind (unexpected)"; exit 1; }
echo "  nothing left behind"

say "Done. On a host of yours: cni-ts install (into /opt/cni/bin), then cni-ts ls and"
echo "cni-ts inspect <network> read the same state your runtime's containers leave (--conf-dir,"
echo "or NETCONFPATH, names the runtime's config directory; --cache-dir its libcni cache)."
