// Go's encoding/json key matching (shared/cni/go-json.ts) and DEL's lenient parse, without root.
// The shapes are the ones Go runtimes marshal without JSON tags: go-cni's PortMapping, IPRanges,
// BandWidth and DNS, and podman's aliases map.
import t from 'tap';
import * as z from 'zod/mini';
import { goFold, goKeys, goNormalize } from '../../shared/cni/go-json.ts';
import { compileSchema } from '../../shared/cni/schema-compile.ts';
import { baseShape, configSchema, parseConfig, parseConfigLenient } from '../../shared/cni/schema.ts';

t.test('goFold: equal exactly when Go EqualFold says so', async (t) => {
  t.equal(goFold('HostPort'), goFold('hostport'));
  t.equal(goFold('hostPort'), goFold('HOSTPORT'));
  t.equal(goFold('\u212Aey'), goFold('key'), 'the Kelvin sign folds to k');
  t.equal(goFold('\u017Fubnet'), goFold('subnet'), 'long s folds to s');
  t.not(goFold('host_port'), goFold('hostport'));
  t.not(goFold('hostPorts'), goFold('hostPort'));
});

t.test('goKeys: exact name first, else case-insensitive, later keys win, others kept', async (t) => {
  const fields = ['hostPort', 'containerPort', 'protocol', 'hostIP'];
  const same = { hostPort: 1, other: 2 };
  t.equal(goKeys(same, fields), same, 'nothing to rename: the same object');
  t.same(goKeys({ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }, fields), { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' });
  t.same(goKeys({ hostPort: 1, HOSTPORT: 2 }, fields), { hostPort: 2 }, 'the later key for a field wins, as in Go');
  t.same(goKeys({ HOSTPORT: 2, hostPort: 1 }, fields), { hostPort: 1 });
  t.same(goKeys({ HostPort: 1, Extra: true }, fields), { hostPort: 1, Extra: true }, 'unknown keys stay');
});

const rangeShape = () => z.looseObject({ subnet: z.string(), rangeStart: z.optional(z.string()), rangeEnd: z.optional(z.string()), gateway: z.optional(z.string()) });
const runtimeSchema = () => z.looseObject({
  ...baseShape(),
  runtimeConfig: z.optional(z.looseObject({
    portMappings: z.optional(z.array(z.looseObject({ hostPort: z.number(), containerPort: z.number(), protocol: z.optional(z.string()), hostIP: z.optional(z.string()) }))),
    ipRanges: z.optional(z.array(z.array(rangeShape()))),
    bandwidth: z.optional(z.looseObject({ ingressRate: z.optional(z.number()), ingressBurst: z.optional(z.number()), egressRate: z.optional(z.number()), egressBurst: z.optional(z.number()) })),
    dns: z.optional(z.looseObject({ servers: z.optional(z.array(z.string())), searches: z.optional(z.array(z.string())), options: z.optional(z.array(z.string())) })),
    aliases: z.optional(z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))])),
  })),
});
const cs = configSchema('go-json-test', runtimeSchema);

t.test("every capability shape Go runtimes marshal without tags", async (t) => {
  const conf = parseConfig(cs, {
    cniVersion: '1.0.0', Name: 'ignored-because-name-exists', name: 'n', Type: 'x',
    RuntimeConfig: {
      portMappings: [{ HostPort: 18080, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }],
      ipRanges: [[{ Subnet: '10.1.0.0/24', RangeStart: '10.1.0.10', RangeEnd: '10.1.0.20', Gateway: '10.1.0.1' }]],
      bandwidth: { IngressRate: 1000, IngressBurst: 10, EgressRate: 2000, EgressBurst: 20 },
      dns: { Servers: ['10.0.0.10'], Searches: ['svc.cluster.local'], Options: ['ndots:5'] },
      aliases: { net1: ['web', 'www'] },
    },
  }) as any;
  t.equal(conf.type, 'x', 'a top-level key too');
  t.equal(conf.name, 'n');
  t.same(conf.runtimeConfig.portMappings, [{ hostPort: 18080, containerPort: 80, protocol: 'tcp', hostIP: '' }]);
  t.same(conf.runtimeConfig.ipRanges, [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.20', gateway: '10.1.0.1' }]]);
  t.same(conf.runtimeConfig.bandwidth, { ingressRate: 1000, ingressBurst: 10, egressRate: 2000, egressBurst: 20 });
  t.same(conf.runtimeConfig.dns, { servers: ['10.0.0.10'], searches: ['svc.cluster.local'], options: ['ndots:5'] });
  t.same(conf.runtimeConfig.aliases, { net1: ['web', 'www'] }, "podman's map: record keys are data, not fields");
});

t.test('goNormalize leaves input that needs nothing untouched (no copy)', async (t) => {
  const node = compileSchema(runtimeSchema());
  const input = { name: 'n', type: 'x', runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 2 }] } };
  t.equal(goNormalize(node, input), input);
});

t.test('DEL parses leniently: invalid optional fields and array elements are dropped, required ones still fail', async (t) => {
  const input = {
    name: 'n', type: 'x',
    runtimeConfig: { portMappings: [{ hostPort: 'eighty', containerPort: 80 }, { hostPort: 8080, containerPort: 80 }], dns: { servers: 'nope' } },
  };
  t.throws(() => parseConfig(cs, input), { code: 6 });
  const conf = parseConfigLenient(cs, input) as any;
  t.same(conf.runtimeConfig.portMappings, [{ hostPort: 8080, containerPort: 80 }], 'the broken mapping is dropped, the good one kept');
  t.notOk('servers' in conf.runtimeConfig.dns);
  t.same(input.runtimeConfig.portMappings.length, 2, 'the input itself is not changed');
  t.throws(() => parseConfigLenient(cs, { name: 'n', type: 5 }), { code: 6, message: /type/ });
});
