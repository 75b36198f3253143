// The guest's XFRM test drives our netlink code through this: `node --import tsx xfrm-pair.ts
// up|down|list <nsA> <ipA> <nsB> <ipB>` makes (or removes) in both namespaces the states and
// policies that put UDP to the VXLAN port between A and B in ESP (transport, AES-GCM), with a
// key and SPIs of the test's own; `list` prints what each namespace holds, as JSON.
import { Netlink } from '../../shared/netlink/socket.ts';
import { NETLINK_XFRM, XFRM_DIR, addPolicy, addState, deletePolicy, deleteState, listPolicies, listStates } from '../../shared/netlink/xfrm.ts';
import { NetNS } from '../../shared/os/netns.ts';

const [op, nsA, ipA, nsB, ipB] = process.argv.slice(2) as [string, string, string, string, string];
const key = Buffer.from('000102030405060708090a0b0c0d0e0f10111213', 'hex');
const aead = { name: 'rfc4106(gcm(aes))', key, icvBits: 128 };
const PORT = 4789;
// A -> B under spi 0x1001, B -> A under 0x1002 (per direction of the pair)
const flows = [{ src: ipA, dst: ipB, spi: 0x1001 }, { src: ipB, dst: ipA, spi: 0x1002 }];

function inside(ns: string, fn: (nl: Netlink) => void): void {
  const n = NetNS.open(`/run/netns/${ns}`);
  const nl = new Netlink(n.fd, NETLINK_XFRM);
  try { fn(nl); } finally { nl.close(); n.close(); }
}

const out: Record<string, unknown> = {};
for (const [ns, me] of [[nsA, ipA], [nsB, ipB]] as const) {
  inside(ns, (nl) => {
    for (const f of flows) {
      const sel = { src: f.src, dst: f.dst, proto: 17, dport: PORT };
      const dir = f.src === me ? XFRM_DIR.OUT : XFRM_DIR.IN;
      if (op === 'up') {
        addState(nl, { ...f, reqid: 1, sel, aead });
        addPolicy(nl, { sel, dir, tmpl: { src: f.src, dst: f.dst, reqid: 1 } });
      } else if (op === 'down') {
        deletePolicy(nl, sel, dir);
        deleteState(nl, f);
      }
    }
    if (op === 'list') out[ns] = { states: listStates(nl).map((s) => ({ src: s.src, dst: s.dst, spi: s.spi, aead: s.aead?.name })), policies: listPolicies(nl).map((p) => ({ dir: p.dir, sel: p.sel })) };
  });
}
if (op === 'list') process.stdout.write(`${JSON.stringify(out)}\n`);
