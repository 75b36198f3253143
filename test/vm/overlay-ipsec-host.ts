// The guest's encrypted-overlay test drives this inside a host namespace (`ip netns exec <host>
// node --import tsx overlay-ipsec-host.ts prep <config>`, or `list <namespace>...` from anywhere):
// - prep: what a host's first ADD makes before its container, through the plugin's own code
//   (the kernel checked, the IPsec policies, the VXLAN device, the network registered for the
//   sync process), less the isolation: the guest's nftables has no inet family. The plugin's ADDs
//   that follow find the device made and go on as on any host.
// - list: the named namespaces' xfrm states and policies, as JSON.
import { parseConfig } from '../../shared/cni/schema.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { NETLINK_XFRM, listPolicies, listStates } from '../../shared/netlink/xfrm.ts';
import { NetNS } from '../../shared/os/netns.ts';
import { overlayConfig } from '../../plugins/vxlan-overlay/config.ts';
import { hostOf } from '../../plugins/vxlan-overlay/host.ts';
import { l2Device } from '../../plugins/vxlan-overlay/l2-host.ts';
import { poolsOf } from '../../plugins/vxlan-overlay/pools.ts';
import { registerNetwork } from '../../plugins/vxlan-overlay/registry.ts';
import { checkSealable } from '../../plugins/vxlan-overlay/sealing.ts';

const [op, conf] = process.argv.slice(2) as [string, string | undefined];
if (op === 'prep') {
  const c = parseConfig(overlayConfig, JSON.parse(conf!));
  poolsOf(c);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    checkSealable(c, h);
    l2Device(c, h);
    registerNetwork(c);
  } finally {
    nl.close();
  }
} else if (op === 'list') {
  // every namespace named, in one go: a consistent view while keys rotate
  const out: Record<string, unknown> = {};
  for (const ns of process.argv.slice(3)) {
    const n = NetNS.open(`/run/netns/${ns}`);
    const nl = new Netlink(n.fd, NETLINK_XFRM);
    out[ns] = {
      states: listStates(nl).map((s) => ({ src: s.src, dst: s.dst, spi: s.spi, reqid: s.reqid, aead: s.aead?.name })),
      policies: listPolicies(nl).map((p) => ({ dir: p.dir, src: `${p.sel.src}/${p.sel.srcLen}`, dst: `${p.sel.dst}/${p.sel.dstLen}`, dport: p.sel.dport })),
    };
    nl.close();
    n.close();
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
