// loopback through the built executable, in a host netns of the test's own.
import t, { type Test } from 'tap';
import { cni, ipJson, ipIn, makeNetns } from '../helpers/netns.ts';

const conf = (cniVersion = '1.0.0') => ({ cniVersion, name: 'none', type: 'loopback' });

function setup(t: Test) {
  const host = makeNetns(t, 'cnits-host');
  const ctr = makeNetns(t, 'cnits-ctr');
  ipIn(ctr.name, 'link', 'set', 'lo', 'down');
  const call = (command: string, extra: Partial<Parameters<typeof cni>[1]> = {}) =>
    cni('loopback', { host: host.name, command, config: conf(), containerId: 'ctr1', netns: ctr.path, ifname: 'lo', ...extra });
  const lo = () => ipJson(ctr.name, 'addr', 'show', 'lo')[0];
  return { host, ctr, call, lo };
}

t.test('ADD sets lo up and reports its addresses; CHECK; DEL sets it down', async (t) => {
  const { ctr, call, lo } = setup(t);
  t.notOk(lo().flags.includes('UP'), 'lo starts down');
  const add = call('ADD');
  t.equal(add.status, 0, add.stdout + add.stderr);
  t.same(add.json, {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: ctr.path }],
    ips: [{ interface: 0, address: '127.0.0.1/8' }, { interface: 0, address: '::1/128' }],
    dns: {},
  });
  t.ok(lo().flags.includes('UP'), 'lo is up in the container');
  const check = call('CHECK');
  t.equal(check.status, 0, check.stdout);
  t.equal(check.stdout, '', 'CHECK prints nothing on success');
  const del = call('DEL');
  t.equal(del.status, 0, del.stdout);
  t.equal(del.stdout, '');
  t.notOk(lo().flags.includes('UP'), 'lo is down after DEL');
  const checkDown = call('CHECK');
  t.equal(checkDown.status, 1);
  t.match(checkDown.json.msg, 'loopback interface is down');
});

t.test('results in the config version', async (t) => {
  const { call } = setup(t);
  const v031 = call('ADD', { config: conf('0.3.1') }).json;
  t.equal(v031.cniVersion, '0.3.1');
  t.same(v031.ips, [{ version: '4', interface: 0, address: '127.0.0.1/8' }, { version: '6', interface: 0, address: '::1/128' }]);
  const v040 = call('ADD', { config: conf('0.4.0') }).json;
  t.equal(v040.cniVersion, '0.4.0');
  t.equal(v040.ips[0].version, '4');
  const v020 = call('ADD', { config: conf('0.2.0') }).json;
  t.same(v020, { cniVersion: '0.2.0', ip4: { ip: '127.0.0.1/8' }, ip6: { ip: '::1/128' }, dns: {} });
});

t.test('DEL succeeds with an empty netns, a vanished netns, and when repeated', async (t) => {
  const { host, call } = setup(t);
  // nerdctl sends DEL with an empty netns before every ADD
  const empty = call('DEL', { netns: '' });
  t.equal(empty.status, 0, empty.stdout);
  t.equal(call('DEL').status, 0);
  t.equal(call('DEL').status, 0, 'repeated DEL');
  const gone = cni('loopback', { host: host.name, command: 'DEL', config: conf(), containerId: 'x', netns: '/run/netns/cnits-never-existed', ifname: 'lo' });
  t.equal(gone.status, 0, gone.stdout);
  t.equal(gone.stdout, '');
});

t.test('bad input gets CNI error JSON, never a stack trace', async (t) => {
  const { call, lo } = setup(t);
  const cases: [string, Parameters<typeof call>[1], number, RegExp][] = [
    ['malformed JSON', { stdin: '{"cniVersion": "1.0.0", "name": ' }, 6, /unmarshal/],
    ['unknown cniVersion', { config: conf('7.0.0') }, 1, /incompatible CNI versions/],
    ['missing CNI_NETNS', { netns: '' }, 4, /CNI_NETNS/],
    ['netns that does not exist', { netns: '/run/netns/cnits-nope' }, 3, /\/run\/netns\/cnits-nope/],
    ['netns path that is no netns', { netns: '/etc/hostname' }, 4, /\/etc\/hostname/],
    ['missing network name', { config: { cniVersion: '1.0.0', type: 'loopback' } }, 7, /name/],
  ];
  for (const [what, extra, code, msg] of cases) {
    const r = call('ADD', extra);
    t.equal(r.status, 1, `${what}: non-zero exit`);
    t.equal(r.json?.code, code, `${what}: code ${code}`);
    t.match(r.json?.msg, msg, `${what}: message`);
    t.notMatch(r.stdout + r.stderr, /^\s+at /m, `${what}: no stack trace`);
  }
  const named = call('ADD', { config: { cniVersion: '0.4.0', name: 'x y', type: 'loopback' } });
  t.same([named.json?.code, named.json?.cniVersion], [7, '0.4.0'], "an error after the version is read is told in the config's version");
  t.notOk(lo().flags.includes('UP'), 'nothing changed in the container');
});

t.test('VERSION and the about line', async (t) => {
  const { host } = setup(t);
  const v = cni('loopback', { host: host.name, command: 'VERSION', config: {} });
  t.same(v.json, { cniVersion: '1.1.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  const about = cni('loopback', { host: host.name, command: '', config: {} });
  t.equal(about.status, 0);
  t.equal(about.stdout, '');
  t.match(about.stderr, /^CNI loopback plugin v\d+\.\d+\.\d+$/m);
});
