// portmap's nftables state: published ports as DNAT map elements, reached from other hosts
// (prerouting) and from the host itself (output); SNAT for hairpin, from-localhost and masqAll.
import { nftOwner, type SetOf } from '../nft-state/owner.ts';

export const PORTMAP_NFT = nftOwner({
  owner: 'portmap',
  sets: [
    // (proto . port) or (host ip . proto . port) -> (container ip . port)
    { family: 'inet', name: 'pm4', key: ['inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false },
    { family: 'inet', name: 'pm6', key: ['inet_proto', 'inet_service'], data: ['ipv6_addr', 'inet_service'], interval: false },
    { family: 'inet', name: 'pm4ip', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false },
    { family: 'inet', name: 'pm6ip', key: ['ipv6_addr', 'inet_proto', 'inet_service'], data: ['ipv6_addr', 'inet_service'], interval: false },
    // snat: hairpin (container . itself) and from-localhost, or everything (masqAll)
    { family: 'inet', name: 'pm_hairpin4', key: ['ipv4_addr', 'ipv4_addr'], interval: false },
    { family: 'inet', name: 'pm_hairpin6', key: ['ipv6_addr', 'ipv6_addr'], interval: false },
    { family: 'inet', name: 'pm_local4', key: ['ipv4_addr'], interval: false },
    { family: 'inet', name: 'pm_masqall4', key: ['ipv4_addr'], interval: false },
    { family: 'inet', name: 'pm_masqall6', key: ['ipv6_addr'], interval: false },
  ],
  chains: [
    { family: 'inet', name: 'portmap', rules: [
      'dnat ip to ip daddr . meta l4proto . th dport map @pm4ip',
      'dnat ip to meta l4proto . th dport map @pm4',
      'dnat ip6 to ip6 daddr . meta l4proto . th dport map @pm6ip',
      'dnat ip6 to meta l4proto . th dport map @pm6',
    ] },
    { family: 'inet', name: 'portmap_prerouting', hook: 'type nat hook prerouting priority dstnat; policy accept;', rules: ['fib daddr type local jump portmap'] },
    { family: 'inet', name: 'portmap_output', hook: 'type nat hook output priority -100; policy accept;', rules: ['fib daddr type local jump portmap'] },
    { family: 'inet', name: 'portmap_postrouting', hook: 'type nat hook postrouting priority srcnat; policy accept;', rules: [
      'ct status dnat ip saddr . ip daddr @pm_hairpin4 masquerade',
      'ct status dnat ip6 saddr . ip6 daddr @pm_hairpin6 masquerade',
      'ct status dnat ip saddr 127.0.0.0/8 ip daddr @pm_local4 masquerade',
      'ct status dnat ip daddr @pm_masqall4 masquerade',
      'ct status dnat ip6 daddr @pm_masqall6 masquerade',
    ] },
  ],
});

export type PortmapSet = SetOf<typeof PORTMAP_NFT>;
