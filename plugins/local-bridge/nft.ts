// The local bridge's nftables state: masquerade of its containers' sources (except towards
// their own subnet and the excluded ones) and MAC spoof checks on their ports. Elements are
// tagged per container; the chains never change.
import { nftOwner, type SetOf } from '../nft-state/owner.ts';

export const BRIDGE_NFT = nftOwner({
  owner: 'bridge',
  sets: [
    // ipMasq: masquerade these sources, except towards (source . destination subnet)
    { family: 'inet', name: 'masq_src4', key: ['ipv4_addr'], interval: true },
    { family: 'inet', name: 'masq_src6', key: ['ipv6_addr'], interval: true },
    { family: 'inet', name: 'masq_skip4', key: ['ipv4_addr', 'ipv4_addr'], interval: true },
    { family: 'inet', name: 'masq_skip6', key: ['ipv6_addr', 'ipv6_addr'], interval: true },
    // macspoofchk: ports checked, and the one MAC each may send from
    { family: 'bridge', name: 'spoof_ports', key: ['ifname'], interval: false },
    { family: 'bridge', name: 'spoof_ok', key: ['ifname', 'ether_addr'], interval: false },
  ],
  chains: [
    { family: 'inet', name: 'bridge_postrouting', hook: 'type nat hook postrouting priority srcnat; policy accept;', rules: [
      'ip saddr @masq_src4 ip saddr . ip daddr != @masq_skip4 ip daddr != 224.0.0.0/4 masquerade',
      'ip6 saddr @masq_src6 ip6 saddr . ip6 daddr != @masq_skip6 ip6 daddr != ff00::/8 masquerade',
    ] },
    { family: 'bridge', name: 'bridge_prerouting', hook: 'type filter hook prerouting priority filter; policy accept;', rules: [
      'iifname @spoof_ports iifname . ether saddr != @spoof_ok drop',
    ] },
  ],
});

export type BridgeSet = SetOf<typeof BRIDGE_NFT>;
