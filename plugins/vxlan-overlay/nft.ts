// vxlan-overlay's nftables state: a host's overlay interfaces (bridge, vxlan device) forward
// only among their own network's.
import { nftOwner, type SetOf } from '../nft-state/owner.ts';

export const OVERLAY_NFT = nftOwner({
  owner: 'vxlan-overlay',
  sets: [
    { family: 'inet', name: 'ov_ifaces', key: ['ifname'], interval: false },
    { family: 'inet', name: 'ov_same', key: ['ifname', 'ifname'], interval: false },
  ],
  chains: [
    { family: 'inet', name: 'overlay_forward', hook: 'type filter hook forward priority filter; policy accept;', rules: [
      'iifname @ov_ifaces oifname @ov_ifaces iifname . oifname != @ov_same drop',
    ] },
  ],
});

export type OverlaySet = SetOf<typeof OVERLAY_NFT>;
