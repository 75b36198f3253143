// The CNI skeleton without root: env checks, CNI_ARGS, versions, result conversion, error
// JSON, and config errors that name the field. A small plugin stands in for real ones.
import t from 'tap';
import * as z from 'zod/mini';
import { parseCniArgs } from '../../shared/cni/args.ts';
import type { Plugin } from '../../shared/cni/plugin.ts';
import { resultFromVersion, resultToVersion, type Result } from '../../shared/cni/result.ts';
import { baseShape, cidrString, configSchema } from '../../shared/cni/schema.ts';
import { runPlugin, type Io } from '../../shared/cni/skel.ts';
import { SUPPORTED_VERSIONS, compareVersions } from '../../shared/cni/version.ts';

const sample: Result = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1400, sandbox: '/run/netns/x' }],
  ips: [
    { interface: 0, address: '10.0.0.2/24', gateway: '10.0.0.1' },
    { interface: 0, address: '10.0.0.3/24', gateway: '10.0.0.1' },
    { interface: 0, address: 'fd00::2/64', gateway: 'fd00::1' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1300 }, { dst: '::/0' }],
  dns: { nameservers: ['10.0.0.1'] },
};

interface Seen { calls: string[]; ctx?: unknown }
function testPlugin(seen: Seen): Plugin<any> {
  return {
    type: 'probe',
    knownArgs: ['IP'],
    config: configSchema('test', () => z.looseObject({ ...baseShape(), subnet: z.optional(cidrString()), mtu: z.optional(z.number()) })),
    add(ctx) { seen.calls.push('ADD'); seen.ctx = ctx; return ctx.prevResult ?? { ...sample, cniVersion: ctx.version }; },
    del(ctx) { seen.calls.push('DEL'); seen.ctx = ctx; },
    check(ctx) { seen.calls.push('CHECK'); seen.ctx = ctx; },
    gc(ctx) { seen.calls.push('GC'); seen.ctx = ctx; },
  };
}

async function run(env: Record<string, string>, stdin: unknown) {
  const out: string[] = [], err: string[] = [];
  const seen: Seen = { calls: [] };
  const io: Io = {
    env: { CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', ...env },
    readStdin: () => (typeof stdin === 'string' ? stdin : JSON.stringify(stdin)),
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
  };
  const status = await runPlugin(testPlugin(seen), io);
  const text = out.join('');
  return { status, text, json: text ? JSON.parse(text) : undefined, stderr: err.join(''), seen };
}

const conf = (o: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'net1', type: 'probe', ...o });

t.test('VERSION reports every version', async (t) => {
  const r = await run({ CNI_COMMAND: 'VERSION' }, '');
  t.equal(r.status, 0);
  t.same(r.json, { cniVersion: '1.1.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

t.test('no CNI_COMMAND prints the about line on stderr only', async (t) => {
  const r = await run({ CNI_COMMAND: '' }, '');
  t.equal(r.status, 0);
  t.equal(r.text, '');
  t.match(r.stderr, /^CNI probe plugin v\d+\.\d+\.\d+\n/);
});

t.test('environment errors are code 4 and name the variable', async (t) => {
  const r = await run({ CNI_COMMAND: 'ADD', CNI_NETNS: '' }, conf());
  t.equal(r.status, 1);
  t.equal(r.json.code, 4);
  t.match(r.json.msg, 'CNI_NETNS');
  t.same(r.seen.calls, []);
  const bad = await run({ CNI_COMMAND: 'BOGUS' }, conf());
  t.equal(bad.json.code, 4);
  const ifn = await run({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'a/b' }, conf());
  t.equal(ifn.json.code, 4);
  t.match(ifn.json.msg, 'CNI_IFNAME');
  const long = await run({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'x'.repeat(16) }, conf());
  t.equal(long.json.code, 4);
  const cid = await run({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: '../etc' }, conf());
  t.equal(cid.json.code, 4);
});

t.test('DEL needs no CNI_NETNS', async (t) => {
  const r = await run({ CNI_COMMAND: 'DEL', CNI_NETNS: '' }, conf());
  t.equal(r.status, 0);
  t.equal(r.text, '', 'DEL prints nothing');
  t.same(r.seen.calls, ['DEL']);
});

t.test('decoding and version errors', async (t) => {
  const bad = await run({ CNI_COMMAND: 'ADD' }, '{"name": ');
  t.equal(bad.json.code, 6);
  t.notMatch(bad.text, /at .*\(.*:\d+:\d+\)/, 'no stack trace');
  const ver = await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: '9.9.9' }));
  t.equal(ver.json.code, 1);
  t.match(ver.json.details, '9.9.9');
  const noName = await run({ CNI_COMMAND: 'ADD' }, conf({ name: '' }));
  t.equal(noName.json.code, 7);
  t.match(noName.json.msg, 'name');
  const oldCheck = await run({ CNI_COMMAND: 'CHECK' }, conf({ cniVersion: '0.3.1' }));
  t.equal(oldCheck.json.code, 1);
  t.match(oldCheck.json.msg, 'CHECK');
  const oldGc = await run({ CNI_COMMAND: 'GC' }, conf({ cniVersion: '1.0.0' }));
  t.equal(oldGc.json.code, 1);
  t.same([...ver.seen.calls, ...oldCheck.seen.calls, ...oldGc.seen.calls], []);
});

t.test('config errors name the field', async (t) => {
  const typ = await run({ CNI_COMMAND: 'ADD' }, conf({ mtu: 'big' }));
  t.equal(typ.json.code, 6);
  t.match(typ.json.msg, 'mtu expected number, got string');
  const cidr = await run({ CNI_COMMAND: 'ADD' }, conf({ subnet: '10.0.0.0' }));
  t.equal(cidr.json.code, 7);
  t.match(cidr.json.msg, 'subnet must be a CIDR');
});

t.test('unknown keys are ignored; CNI_ARGS unknown keys need IgnoreUnknown', async (t) => {
  const ok = await run({ CNI_COMMAND: 'ADD', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p;FOO=bar' }, conf({ nerdctlID: 'x', nerdctlLabels: {}, args: { podman_labels: {} } }));
  t.equal(ok.status, 0);
  t.same((ok.seen.ctx as any).args, { IgnoreUnknown: '1', K8S_POD_NAME: 'p', FOO: 'bar' });
  const strict = await run({ CNI_COMMAND: 'ADD', CNI_ARGS: 'FOO=bar' }, conf());
  t.equal(strict.json.code, 4);
  t.match(strict.json.msg, 'FOO');
  t.same(parseCniArgs('IP=10.0.0.5', ['IP']), { IP: '10.0.0.5' });
  t.throws(() => parseCniArgs('novalue', []), { code: 4 });
});

t.test('ADD answers in the config version', async (t) => {
  for (const v of SUPPORTED_VERSIONS) {
    const r = await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: v }));
    t.equal(r.status, 0, v);
    t.equal(r.json.cniVersion, v);
  }
  const v040 = (await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.4.0' }))).json;
  t.same(v040.ips[0], { version: '4', interface: 0, address: '10.0.0.2/24', gateway: '10.0.0.1' });
  t.same(v040.ips[2].version, '6');
  t.same(v040.routes[0], { dst: '0.0.0.0/0', gw: '10.0.0.1' }, '0.4.0 routes carry no 1.1 fields');
  t.same(v040.interfaces[0], { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x' });
  const v020 = (await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.2.0' }))).json;
  t.same(v020, {
    cniVersion: '0.2.0',
    ip4: { ip: '10.0.0.2/24', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }] },
    ip6: { ip: 'fd00::2/64', gateway: 'fd00::1', routes: [{ dst: '::/0' }] },
    dns: { nameservers: ['10.0.0.1'] },
  });
  const v110 = (await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: '1.1.0' }))).json;
  t.same(v110.routes[0], { dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1300 });
  t.equal(v110.interfaces[0].mtu, 1400);
  t.notOk('version' in v110.ips[0]);
  const v100 = (await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: '1.0.0' }))).json;
  t.same(v100.routes[0], { dst: '0.0.0.0/0', gw: '10.0.0.1' }, '1.0.0 routes carry no 1.1 fields');
  t.notOk('mtu' in v100.interfaces[0], '1.0.0 interfaces carry no mtu');
});

t.test('prevResult in any version reaches the plugin in the internal form', async (t) => {
  for (const v of SUPPORTED_VERSIONS) {
    const prev = resultToVersion({ ...sample, cniVersion: v }, v);
    const r = await run({ CNI_COMMAND: 'ADD' }, conf({ cniVersion: v, prevResult: prev }));
    const got = (r.seen.ctx as any).prevResult as Result;
    t.ok(got.ips?.some((ip) => ip.address === '10.0.0.2/24'), `${v}: ipv4 kept`);
    t.ok(got.ips?.some((ip) => ip.address === 'fd00::2/64'), `${v}: ipv6 kept`);
    t.same(r.json, prev, `${v}: a pass-through plugin returns prevResult unchanged`);
  }
});

t.test('result conversion edge cases', async (t) => {
  t.throws(() => resultToVersion({ cniVersion: '1.0.0', interfaces: [{ name: 'lo' }] }, '0.2.0'), { code: 1 });
  const back = resultFromVersion({ ip4: { ip: '10.1.0.2/16', routes: [{ dst: '10.2.0.0/16' }] } }, '0.2.0');
  t.same(back.ips, [{ address: '10.1.0.2/16' }]);
  t.same(back.routes, [{ dst: '10.2.0.0/16' }]);
  t.ok(compareVersions('0.10.0', '0.4.0') > 0);
  t.ok(compareVersions('1.0.0', '1.0.0') === 0);
});
