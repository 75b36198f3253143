// Differential tests: the same conflist through the reference plugins and through ours, each
// in a fresh host namespace; results and the container's links, addresses and routes must
// match once random names and MACs are normalised. Known, deliberate differences are
// listed in conformance/README.md and normalised here by name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { BIN, REFERENCE_BIN, ipJson, makeNetns } from '../helpers/netns.ts';

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

function normalise(v: unknown, names: Map<string, string>): unknown {
  if (Array.isArray(v)) return v.map((x) => normalise(x, names));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x, names)]));
  if (typeof v === 'string') {
    if (MAC.test(v)) return '<mac>';
    if (names.has(v)) return names.get(v);
    if (v.startsWith('/run/netns/')) return '<netns>';
  }
  return v;
}

/** The container's network as iproute2 reports it, without what differs by chance. */
function containerState(ns: string) {
  const links = ipJson(ns, '-d', 'link', 'show').map((l: any) => ({ name: l.ifname, kind: l.linkinfo?.info_kind ?? null, mtu: l.mtu, up: l.flags.includes('UP') }));
  const addrs = ipJson(ns, 'addr', 'show').flatMap((l: any) => l.addr_info.filter((a: any) => !a.local.startsWith('fe80:')).map((a: any) => ({ dev: l.ifname, local: a.local, prefixlen: a.prefixlen, scope: a.scope })));
  const routes = [...ipJson(ns, 'route', 'show'), ...ipJson(ns, '-6', 'route', 'show')].filter((r: any) => !String(r.dst).startsWith('fe80:')).map((r: any) => ({ dst: r.dst, gateway: r.gateway ?? null, dev: r.dev, scope: r.scope ?? null }));
  return { links, addrs, routes };
}

function runBoth(t: Test, list: (dataDir: string) => Conflist, runtimeConfig: Record<string, unknown> = {}) {
  return (['reference', 'ours'] as const).map((impl) => {
    const host = makeNetns(t, 'cnits-host');
    const ctr = makeNetns(t, 'cnits-ctr');
    const dataDir = mkdtempSync(join(tmpdir(), 'cnits-diff-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const chain = new Chain(list(dataDir), { host: host.name, containerId: 'diff1', netns: ctr.path, runtimeConfig, bin: impl === 'ours' ? BIN : REFERENCE_BIN });
    const add = chain.add();
    t.equal(add.status, 0, `${impl} ADD: ${add.stdout}`);
    // host-side names are random in the reference and hashed in ours
    const names = new Map<string, string>();
    for (const i of add.json?.interfaces ?? []) if (/^veth/.test(i.name)) names.set(i.name, '<veth>');
    return { impl, result: normalise(add.json, names), state: containerState(ctr.name), chain };
  });
}

const v = (cniVersion: string) => cniVersion;

t.test('loopback', async (t) => {
  // at 0.2.0-0.4.0 the reference prints its 1.0 shape under the old version, and it speaks no
  // 1.1.0 (conformance/README.md): 1.0.0 is where the two can agree
  for (const cniVersion of ['1.0.0']) {
    const [ref, ours] = runBoth(t, () => ({ cniVersion: v(cniVersion), name: 'lo', plugins: [{ type: 'loopback' }] }));
    t.same(ours!.result, ref!.result, `${cniVersion}: same result`);
    t.same(ours!.state, ref!.state, `${cniVersion}: same container state`);
  }
});

t.test('host-local', async (t) => {
  const [ref, ours] = runBoth(t, (d) => ({ cniVersion: '1.0.0', name: 'hl', plugins: [{ type: 'host-local', ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.100.1.0/24', rangeStart: '10.100.1.10' }], [{ subnet: 'fd01::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '10.200.0.0/16', gw: '10.100.1.1' }] } }] }));
  t.same(ours!.result, ref!.result, 'same result');
});

t.test('bridge (gateway, masquerade, dual stack, MTU)', async (t) => {
  const [ref, ours] = runBoth(t, (d) => ({ cniVersion: '1.0.0', name: 'br', plugins: [{
    type: 'bridge', bridge: 'cnitsdiff0', isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true, mtu: 1400,
    ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.100.2.0/24' }], [{ subnet: 'fd02::/64' }]] },
  }] }));
  t.same(ours!.result, ref!.result, 'same result');
  t.same(ours!.state, ref!.state, 'same container links, addresses, routes');
  for (const x of [ref, ours]) t.same(x!.chain.del().map((d) => d.status), [0], `${x!.impl} DEL`);
});

t.test('bridge + portmap at 0.4.0', async (t) => {
  const [ref, ours] = runBoth(t, (d) => ({ cniVersion: '0.4.0', name: 'pm', plugins: [
    { type: 'bridge', bridge: 'cnitsdiff1', isGateway: true, ipMasq: true, ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.100.3.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ] }), { portMappings: [{ hostPort: 8090, containerPort: 80, protocol: 'tcp' }] });
  t.same(ours!.result, ref!.result, 'same result');
  t.same(ours!.state, ref!.state, 'same container state');
});
