// The executables validate configs with schemas compiled from the zod ones (shared/cni/schema-compile.ts
// -> shared/cni/schema-node.ts). Here both judge the same corpus: every config in the conformance
// scenarios, and each of those broken at every field (removed, or given a value of every JSON
// type and of every edge a check has), and every schema field given every probe even when the
// corpus never sets it. The issues (code, path, bounds, input, message) must be identical.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { compileSchema } from '../../shared/cni/schema-compile.ts';
import { PLUGINS } from '../../entry/loaders.ts';
import { configError, configIssues, type ConfigSchema } from '../../shared/cni/schema.ts';
import { validate, type Issue, type SchemaNode } from '../../shared/cni/schema-node.ts';

const root = join(import.meta.dirname, '../..');

const PROBES: unknown[] = [
  undefined, null, true, false, 0, -1, 1, 1.5, 4094, 4095, 65535, 65536, 1e300, Number.MAX_SAFE_INTEGER + 2, -(Number.MAX_SAFE_INTEGER + 2),
  '', 'x', 'l2', 'same-bridge', 'bridge', '10.0.0.1', '10.0.0.0/8', 'fd00::1', 'fd00::/64', '1.2.3.4/33', 'aa:bb:cc:dd:ee:ff', 'aa:bb', 'eth0', 'a-very-long-interface-name',
  [], ['x'], [1], [['x']], [{}], [{ subnet: '10.1.0.0/16' }], [[{ subnet: '10.1.0.0/16' }]], [[{ subnet: 'nope' }]], [{ dst: '0.0.0.0/0', gw: 'bad' }],
  {}, { a: 'b' }, { a: 1 }, { type: 'host-local' }, { cni: { mac: 'bad' } }, { cni: { ips: ['10.0.0.9'] } }, { ips: [1] },
];

const normal = (i: Issue) => ({
  code: i.code, path: i.path.map(String), expected: i.expected, values: i.values, minimum: i.minimum, maximum: i.maximum, origin: i.origin,
  input: JSON.stringify(i.input), message: i.code === 'custom' ? i.message : undefined,
});

function setAt(o: any, path: (string | number)[], v: unknown): any {
  const copy = structuredClone(o);
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k];
  const last = path[path.length - 1]!;
  if (v === undefined) { if (Array.isArray(cur)) cur.splice(last as number, 1); else delete cur[last]; } else cur[last] = v;
  return copy;
}

function leafPaths(o: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (o === null || typeof o !== 'object') return at.length ? [at] : [];
  const entries = Array.isArray(o) ? o.map((v, i) => [i, v] as const) : Object.entries(o);
  return [...(at.length ? [at] : []), ...entries.flatMap(([k, v]) => leafPaths(v, [...at, k]))];
}

/** Every field path a schema declares, arrays stepped into at [0]. */
function schemaPaths(n: SchemaNode, at: (string | number)[] = []): (string | number)[][] {
  switch (n.t) {
    case 'optional': return schemaPaths(n.inner, at);
    case 'object': return n.shape.flatMap(([k, s]) => [[...at, k], ...schemaPaths(s, [...at, k])]);
    case 'array': return schemaPaths(n.el, [...at, 0]);
    default: return [];
  }
}

/** Make the containers a path needs (objects, or arrays for numeric steps) and put v there. */
function putAt(o: any, path: (string | number)[], v: unknown): any {
  const copy = structuredClone(o);
  let cur = copy;
  path.slice(0, -1).forEach((k, i) => {
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[k];
  });
  cur[path[path.length - 1]!] = v;
  return copy;
}

const corpus = new Map<string, unknown[]>();   // plugin type -> configs
for (const f of readdirSync(join(root, 'conformance/scenarios'))) {
  for (const sc of JSON.parse(readFileSync(join(root, 'conformance/scenarios', f), 'utf8'))) {
    const list = sc.conflist;
    if (!list?.plugins) continue;
    for (const p of list.plugins) {
      const conf = { cniVersion: list.cniVersion, name: list.name, ...p };
      for (const type of [p.type, p.ipam?.type]) if (type && type in PLUGINS) corpus.set(type, [...(corpus.get(type) ?? []), conf]);
    }
  }
}

// the chained plugins nerdctl and podman add, as they write them
const chained = { cniVersion: '1.0.0', name: 'n' };
corpus.set('firewall', [{ ...chained, type: 'firewall', ingressPolicy: 'same-bridge' }, { ...chained, type: 'firewall', backend: '', iptablesAdminChainName: 'CNI-ADMIN' }]);
// vxlan-overlay needs etcd, so no conformance scenario holds it: its configs as docs/plugins/vxlan-overlay.md gives them
corpus.set('vxlan-overlay', [
  { ...chained, type: 'vxlan-overlay', mode: 'routed', subnet: '10.90.0.0/16', hostSubnetLength: 24, vni: 42, etcd: { endpoints: ['http://192.0.2.1:2379'] } },
  { ...chained, type: 'vxlan-overlay', vni: 42, encrypted: false, etcd: { endpoints: ['http://192.0.2.1:2379'] }, runtimeConfig: { mac: '02:42:0a:00:00:05', ips: ['10.90.0.5'] }, args: { cni: { ips: ['10.90.0.6'], mac: '02:42:0a:00:00:06' } },
    subnets: [{ subnet: '10.90.0.0/24', ipRange: '10.90.0.128/25', gateway: '10.90.0.1', auxAddresses: { printer: '10.90.0.5' } }, { subnet: 'fd00:90::/64' }] },
  { ...chained, type: 'vxlan-overlay', subnet: '10.91.0.0/16', vni: 7, port: 8472, mtu: 1400, ipMasq: false, bridge: 'ovb', underlayInterface: 'eth1', underlayAddress: '192.0.2.9', dataDir: '/tmp/x',
    etcd: { endpoints: ['https://192.0.2.1:2379', 'https://192.0.2.2:2379'], prefix: '/x/y', caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' }, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] },
]);
corpus.set('tuning', [{ ...chained, type: 'tuning', mtu: 1400, mac: 'aa:bb:cc:dd:ee:ff', promisc: true, allmulti: false, txQLen: 100, sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } }, { ...chained, type: 'tuning' }]);

for (const [type, load] of Object.entries(PLUGINS)) {
  t.test(`${type}: the compiled schema reports exactly what zod reports`, async (t) => {
    const cs = (await load()).config as ConfigSchema<unknown>;
    const node = compileSchema(cs.zod(), cs.id);
    const base = corpus.get(type) ?? [];
    t.ok(base.length, 'the conformance scenarios hold configs for this plugin');
    const inputs: unknown[] = [...base, ...PROBES];
    for (const conf of base) {
      for (const p of leafPaths(conf)) for (const v of PROBES) inputs.push(setAt(conf, p, v));
      for (const p of schemaPaths(node)) for (const v of PROBES) if (v !== undefined) inputs.push(putAt(conf, p, v));
    }
    const unique = [...new Map(inputs.map((i) => [JSON.stringify(i) ?? 'undefined', i])).values()];
    let failing = 0, mismatches = 0;
    for (const input of unique) {
      const want = configIssues(cs, input).map(normal);
      const got = validate(node, input).map(normal);
      if (want.length) failing++;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        if (mismatches++ < 3) t.same(got, want, `issues for ${JSON.stringify(input).slice(0, 300)}`);
      } else if (want.length) {
        // and so the same CNI error, code and message
        const [a, b] = [configError(validate(node, input)), configError(configIssues(cs, input))];
        if (a.code !== b.code || a.message !== b.message) mismatches++;
      }
    }
    t.equal(mismatches, 0, `${unique.length} configs judged alike`);
    t.ok(failing > unique.length / 2, `most of the corpus is broken (${failing}/${unique.length}), so the comparison covers failures`);
    t.ok(unique.length - failing >= new Set(base.map((b) => JSON.stringify(b))).size, 'the valid configs stay valid');
  });
}

t.test('a zod feature the compiler does not know fails the build', async (t) => {
  const z = await import('zod/mini');
  t.throws(() => compileSchema(z.looseObject({ a: z.string().check(z.minLength(2)) })), /unsupported check/);
  t.throws(() => compileSchema(z.object({ a: z.string() })), /only looseObject/);
  t.throws(() => compileSchema(z.looseObject({ a: z.string().check(z.refine((s) => s.length > 0, 'x')) })), /not in shared\/cni\/refinements/);
  t.throws(() => compileSchema(z.looseObject({ a: z.nullable(z.string()) })), /unsupported zod type "nullable"/);
});
