// `npm run demo` (build/demo.sh) tells its story and leaves nothing: run as the README says,
// after the build the test run already made.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/netns.ts';

t.test('the demo: two containers, names and aliases, a published port, isolated networks, names across two hosts, nothing left', async (t) => {
  const before = readdirSync('/run/netns').filter((n) => n.startsWith('cnits-demo'));
  const r = spawnSync('bash', [join(ROOT, 'build/demo.sh')], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stdout.slice(-2000) + r.stderr);
  const text = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  t.match(text, /web got 10\.77\.0\.\d+/);
  t.match(text, /reply from 10\.77\.0\.\d+: same network, reachable/);
  t.match(text, /web is 10\.77\.0\.\d+: reply/, 'app pings web by name');
  t.match(text, /api is 10\.77\.0\.\d+: reply/, 'and by its network alias');
  t.match(text, /api answers both/, 'a shared alias answers both holders');
  t.match(text, /db is 10\.90\.0\.\d+ on host 1: reply across the overlay/, 'names across two hosts on an overlay');
  t.match(text, /both gone: 0 keys left in etcd/);
  t.match(text, /web answered; it saw the client as 192\.0\.2\.2: DNAT to 10\.77\.0\.\d+:80/);
  t.match(text, /no reply: networks are isolated/);
  t.match(text, /^\s+mynet\s+bridge,portmap,firewall,tuning,dns-hosts\s+10\.77\.0\.0\/24\s+cni-demo0\s+2$/m, 'cni-ts ls');
  t.match(text, /^\s+web-\d+\s+eth0\s+10\.77\.0\.\d+\s+[0-9a-f:]{17}\s+veth[0-9a-f]{8}\s+8080\/tcp -> /m, 'cni-ts inspect');
  t.match(text, /veths left: 0, leases left: 0, firewall elements left: 0/);
  t.match(text, /cni-ts inspect <network>/, 'it ends pointing at cni-ts inspect');
  t.same(readdirSync('/run/netns').filter((n) => n.startsWith('cnits-demo')), before, 'its namespaces are gone');
});
