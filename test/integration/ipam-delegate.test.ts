// IPAM delegation: host-local in-process, anything else exec'd from CNI_PATH (here the
// reference `static` plugin), errors passed through.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseCniArgs } from '../../shared/cni/args.ts';
import type { CniEnv } from '../../shared/cni/env.ts';
import { runIpam } from '../../ipam/delegate.ts';
import type { Context } from '../../shared/cni/plugin.ts';
import { baseSchema, configSchema, parseConfig, type BaseConf } from '../../shared/cni/schema.ts';
import { REFERENCE_BIN } from '../helpers/netns.ts';

function ctx(conf: Record<string, unknown>, command: CniEnv['command'] = 'ADD'): Context<BaseConf> {
  const stdin = JSON.stringify(conf);
  const env: CniEnv = { command, containerId: 'c1', netns: '/x', ifname: 'eth0', args: '', path: ['/nonexistent', REFERENCE_BIN] };
  process.env.CNI_CONTAINERID = 'c1';
  process.env.CNI_IFNAME = 'eth0';
  process.env.CNI_NETNS = '/x';
  process.env.CNI_PATH = env.path.join(':');
  return { env, conf: parseConfig(configSchema('base', baseSchema), conf), version: String(conf.cniVersion), args: parseCniArgs(''), stdin };
}

t.test('host-local runs in-process', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cnits-ipam-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const conf = { cniVersion: '1.0.0', name: 'n1', type: 'bridge', ipam: { type: 'host-local', dataDir, subnet: '10.40.0.0/24' } };
  const r = await runIpam('ADD', ctx(conf));
  t.same(r?.ips, [{ address: '10.40.0.2/24', gateway: '10.40.0.1' }]);
  t.equal(readFileSync(join(dataDir, 'n1/10.40.0.2'), 'utf8'), 'c1\r\neth0');
  await runIpam('DEL', ctx(conf, 'DEL'));
  t.same(readdirSync(join(dataDir, 'n1')).sort(), ['last_reserved_ip.0', 'lock']);
});

t.test('other types are exec\'d from CNI_PATH with the config on stdin', async (t) => {
  const conf = { cniVersion: '0.4.0', name: 'n2', type: 'bridge', ipam: { type: 'static', addresses: [{ address: '10.41.0.5/24', gateway: '10.41.0.1' }] } };
  const r = await runIpam('ADD', ctx(conf));
  t.same(r?.ips, [{ address: '10.41.0.5/24', gateway: '10.41.0.1' }], 'the 0.4.0 result converted to the internal form');
  t.equal(await runIpam('DEL', ctx(conf, 'DEL')), undefined);
});

t.test('errors: unknown type, the delegate\'s own error, no ipam', async (t) => {
  await t.rejects(runIpam('ADD', ctx({ cniVersion: '1.0.0', name: 'n3', type: 'bridge', ipam: { type: 'nope' } })), { code: 7, message: /ipam.type "nope": no such plugin in CNI_PATH/ });
  await t.rejects(runIpam('ADD', ctx({ cniVersion: '1.0.0', name: 'n3', type: 'bridge', ipam: { type: '../bin/sh' } })), { code: 7 });
  await t.rejects(runIpam('ADD', ctx({ cniVersion: '1.0.0', name: 'n3', type: 'bridge', ipam: { type: 'static', addresses: [{ address: 'bogus' }] } })), { message: /bogus|invalid/i });
  t.equal(await runIpam('ADD', ctx({ cniVersion: '1.0.0', name: 'n3', type: 'bridge', ipam: {} })), undefined);
  t.equal(await runIpam('ADD', ctx({ cniVersion: '1.0.0', name: 'n3', type: 'bridge', ipam: { type: '' } })), undefined);
  t.equal(await runIpam('ADD', ctx({ cniVersion: '1.0.0', name: 'n3', type: 'bridge' })), undefined);
});
