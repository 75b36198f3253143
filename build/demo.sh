#!/bin/bash
# The demo: Docker's user-defined bridge network story, played with our executables and a real
# libcni runtime (build/cnictl) in network namespaces made for it ("this host", an "outside"
# machine, and one per container) and removed afterwards; then names across two hosts on an
# overlay, with etcd started in a namespace of its own. Nothing touches the machine's own
# namespace; the outside is reached on TEST-NET addresses that exist only between them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD BIN=$PWD/build/bin CNICTL=$PWD/build/cnictl TRAFFIC=$PWD/test/helpers/traffic.mjs
[ -x "$CNICTL" ] || { echo "demo: build/cnictl is missing (apt-get install golang-go golang-github-appc-cni-dev, then npm run build)"; exit 1; }

id=$$ host=cnits-demo-host-$$ out=cnits-demo-out-$$
work=$(mktemp -d /tmp/cnits-demo-XXXXXX)
containers=()
pids=()
extra_ns=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # what the plugins keep per host namespace (the resolver's records and lock, the overlay's
  # registry), and a resolver a run stopped half-way left: gone with the namespaces
  node --import tsx -e 'import("./conformance/host-state.ts").then((m) => { for (const n of process.argv.slice(1)) { try { for (const d of m.netnsStateDirs(n)) { m.stopDaemons(d); require("node:fs").rmSync(d, { recursive: true, force: true }); } } catch {} } })' \
    "$host" "${extra_ns[@]}" || true
  for c in "${containers[@]}"; do ip netns del "cnits-demo-$c-$id" 2>/dev/null || true; rm -rf "/etc/netns/cnits-demo-$c-$id"; done
  for n in "${extra_ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  ip netns del "$out" 2>/dev/null || true
  ip netns del "$host" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '  $ %s\n' "$*"; }
inhost() { ip netns exec "$host" "$@"; }

# the runtime: libcni (as containerd, nerdctl and podman's CNI backend use it)
cni() {   # cni add|del NETWORK CONTAINER [hostPort] [alias,alias]   (HOSTNS: the host's namespace)
  local caps='' ports='' aliases=''
  [ -n "${4:-}" ] && ports="\"portMappings\":[{\"hostPort\":$4,\"containerPort\":80,\"protocol\":\"tcp\"}]"
  [ -n "${5:-}" ] && aliases="\"aliases\":{\"$2\":[\"${5//,/\",\"}\"]}"
  caps="{$ports${ports:+${aliases:+,}}$aliases}"
  NETCONFPATH=$work/net.d CNI_PATH=$BIN CNI_CACHE_DIR=$work/cache CNI_CONTAINERID="$3-$id" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=$3" CAP_ARGS="$caps" \
    ip netns exec "${HOSTNS:-$host}" "$CNICTL" "$1" "$2" "/run/netns/cnits-demo-$3-$id"
}
run_container() {   # run_container NAME NETWORK [hostPort] [aliases]: its namespace, then ADD; sets $addr
  ip netns add "cnits-demo-$1-$id"; containers+=("$1")
  ip -n "cnits-demo-$1-$id" link set lo up
  cni add "$2" "$1" "${3:-}" "${4:-}" > "$work/$1.json"
  addr=$(addr_of "$1")
  # its resolv.conf, as the runtime writes it from the result (ip netns exec puts it over /etc/resolv.conf)
  mkdir -p "/etc/netns/cnits-demo-$1-$id"
  node -e 'const r=require(process.argv[1]); for (const n of r.dns?.nameservers ?? []) console.log(`nameserver ${n}`); if (r.dns?.search?.length) console.log(`search ${r.dns.search.join(" ")}`)' "$work/$1.json" > "/etc/netns/cnits-demo-$1-$id/resolv.conf"
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
  {"type": "tuning"},
  {"type": "dns-hosts", "forward": false, "capabilities": {"aliases": true}}]}
JSON
cat > "$work/net.d/20-othernet.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "othernet", "plugins": [
  {"type": "bridge", "bridge": "cni-demo1", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "dataDir": "$work/ipam", "ranges": [[{"subnet": "10.78.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "firewall", "ingressPolicy": "same-bridge"}]}
JSON
show "cat 10-mynet.conflist"; sed 's/^/    /' "$work/net.d/10-mynet.conflist"

say "docker run -d --name web --network mynet --network-alias api -p 8080:80 ...   (ADD through the chain)"
run_container web mynet 8080 api; web=$addr
echo "  web got $web; in its namespace:"
in_ctr web ip -br addr show eth0 | sed 's/^/    /'
in_ctr web ip route | sed 's/^/    /'
ip netns exec "cnits-demo-web-$id" node "$TRAFFIC" serve tcp 80 >/dev/null 2>&1 &
pids+=($!)

say "docker run -d --name app --network mynet ..."
run_container app mynet; app=$addr
echo "  app got $app"

say "app pings web by IP, by name and by its network alias (dns-hosts: Docker's embedded DNS at 127.0.0.11)"
show "ping -c 1 $web   (from app)"
ping_ok app "$web" && echo "  reply from $web: same network, reachable" || { echo "  no reply (unexpected)"; exit 1; }
for n in web api; do
  show "ping -c 1 $n   (from app)"
  got=$(in_ctr app ping -c 1 -W 1 "$n" 2>/dev/null | sed -n 's/^PING [^ ]* (\([0-9.]*\)).*/\1/p')
  [ "$got" = "$web" ] && echo "  $n is $got: reply" || { echo "  $n did not resolve to $web (got '$got')"; exit 1; }
done

say "docker run -d --name web2 --network mynet --network-alias api ...   (a second holder of the alias)"
run_container web2 mynet "" api; web2=$addr
show "dig +short api   (from app, twice)"
first=$(in_ctr app dig +short +tries=1 @127.0.0.11 api | tr '\n' ' '); second=$(in_ctr app dig +short +tries=1 @127.0.0.11 api | tr '\n' ' ')
echo "  $first"; echo "  $second"
case "$first" in *"$web "*) ;; *) echo "  api does not answer web (unexpected)"; exit 1;; esac
case "$first" in *"$web2 "*) ;; *) echo "  api does not answer web2 (unexpected)"; exit 1;; esac
[ "$first" != "$second" ] && echo "  api answers both, rotated: a round-robin alias" || echo "  api answers both"
cni del mynet web2

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
cni del mynet web 8080 api; cni del mynet app; cni del othernet other
left=$( { inhost ip -br link | grep -c veth || true; } )
leases=$(find "$work/ipam" -name '10.*' | wc -l)
elements=$(inhost nft list table inet cni-ts 2>/dev/null | grep -c "id=.*-$id\"" || true)
echo "  veths left: $left, leases left: $leases, firewall elements left: $elements"
[ "$left$leases$elements" = 000 ] || { echo "  something was left behind (unexpected)"; exit 1; }
echo "  nothing left behind"

say "Two hosts, one overlay (docker network create -d overlay --subnet 10.90.0.0/24 ov): names across hosts"
und=cnits-demo-und-$id h1=cnits-demo-h1-$id h2=cnits-demo-h2-$id
extra_ns+=("$h1" "$h2" "$und")
ip netns add "$und"; ip -n "$und" link set lo up; ip -n "$und" link add ubr type bridge; ip -n "$und" link set ubr up
ip -n "$und" addr add 198.51.100.250/24 dev ubr
for i in 1 2; do
  n=cnits-demo-h$i-$id
  ip netns add "$n"; ip -n "$n" link set lo up
  ip -n "$n" link add eth0 type veth peer name "u$i-$id" netns "$und"
  ip -n "$und" link set "u$i-$id" master ubr; ip -n "$und" link set "u$i-$id" up
  ip -n "$n" addr add "198.51.100.$i/24" dev eth0; ip -n "$n" link set eth0 up
  ip -n "$n" route add default via 198.51.100.250
done
echo "  hosts 198.51.100.1 and .2 on one underlay; etcd on 198.51.100.250, in a namespace of its own;"
echo "  on each host the overlay's sync process (vxlan-overlay --sync), as a systemd unit would run it"
ip netns exec "$und" etcd --name demo --data-dir "$work/etcd" --listen-client-urls http://198.51.100.250:2379 \
  --advertise-client-urls http://198.51.100.250:2379 --listen-peer-urls http://127.0.0.1:2380 >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do ip netns exec "$und" etcdctl --endpoints http://198.51.100.250:2379 endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
for n in "$h1" "$h2"; do ip netns exec "$n" "$BIN/vxlan-overlay" --sync >>"$work/sync.log" 2>&1 & pids+=($!); done
cat > "$work/net.d/30-ov.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "ov", "plugins": [
  {"type": "vxlan-overlay", "vni": 42, "subnet": "10.90.0.0/24", "dataDir": "$work/ov",
   "etcd": {"endpoints": ["http://198.51.100.250:2379"]}},
  {"type": "dns-hosts", "forward": false, "etcd": {"endpoints": ["http://198.51.100.250:2379"]}}]}
JSON
show "cat 30-ov.conflist"; sed 's/^/    /' "$work/net.d/30-ov.conflist"
HOSTNS=$h1 run_container db ov; db=$addr
echo "  db runs on host 1: $db"
HOSTNS=$h2 run_container shop ov; shop=$addr
echo "  shop runs on host 2: $shop"
show "ping -c 1 db   (from shop, on host 2)"
got=''
for _ in $(seq 20); do got=$(in_ctr shop ping -c 1 -W 1 db 2>/dev/null | sed -n 's/^PING [^ ]* (\([0-9.]*\)).*/\1/p'); [ "$got" = "$db" ] && break; sleep 0.1; done
[ "$got" = "$db" ] && ping_ok shop db && echo "  db is $got on host 1: reply across the overlay" || { echo "  db did not resolve across hosts (got '$got')"; exit 1; }
HOSTNS=$h1 cni del ov db; HOSTNS=$h2 cni del ov shop
# (each host's resolver takes its names out of etcd as it sees the DEL: a moment after it returns)
for _ in $(seq 40); do
  names=$(ip netns exec "$und" etcdctl --endpoints http://198.51.100.250:2379 get --prefix /cni-ts/ --keys-only | grep -c . || true)
  [ "$names" = 0 ] && break; sleep 0.05
done
echo "  both gone: $names keys left in etcd"
[ "$names" = 0 ] || { echo "  something was left in etcd (unexpected)"; exit 1; }

say "Done. On a host of yours: cni-ts install (into /opt/cni/bin), then cni-ts ls and"
echo "cni-ts inspect <network> read the same state your runtime's containers leave (--conf-dir,"
echo "or NETCONFPATH, names the runtime's config directory; --cache-dir its libcni cache)."
