// firewall's nftables state: per-container accepts (as the reference adds them), isolation
// between bridges (ingressPolicy "same-bridge") and between a bridge's ports ("isolated").
import { nftOwner, type SetOf } from '../nft-state/owner.ts';

export const FIREWALL_NFT = nftOwner({
  owner: 'firewall',
  sets: [
    { family: 'inet', name: 'fw_accept4', key: ['ipv4_addr'], interval: false },
    { family: 'inet', name: 'fw_accept6', key: ['ipv6_addr'], interval: false },
    // bridges kept apart, and the (in . out) pairs that stay allowed: a bridge to itself
    { family: 'inet', name: 'iso_bridges', key: ['ifname'], interval: false },
    { family: 'inet', name: 'iso_same', key: ['ifname', 'ifname'], interval: false },
    // bridge ports that may not reach each other (--icc=false)
    { family: 'bridge', name: 'icc_ports', key: ['ifname'], interval: false },
  ],
  chains: [
    // drops before accepts: an accept here does not spare a packet another owner's chain drops
    { family: 'inet', name: 'firewall_forward', hook: 'type filter hook forward priority filter; policy accept;', rules: [
      'iifname @iso_bridges oifname @iso_bridges iifname . oifname != @iso_same drop',
      'ip daddr @fw_accept4 ct state established,related accept',
      'ip saddr @fw_accept4 accept',
      'ip6 daddr @fw_accept6 ct state established,related accept',
      'ip6 saddr @fw_accept6 accept',
    ] },
    { family: 'bridge', name: 'firewall_forward', hook: 'type filter hook forward priority filter; policy accept;', rules: ['iifname @icc_ports oifname @icc_ports drop'] },
  ],
});

export type FirewallSet = SetOf<typeof FIREWALL_NFT>;
