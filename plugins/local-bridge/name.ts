// The host end of a container's veth: a name stable per attachment, so a retry, a DEL without
// netns and `cni-ts inspect` all find it.
import { shortHash } from '../../shared/util/hash.ts';

export const hostVethName = (containerId: string, ifname: string, network: string): string =>
  `veth${shortHash(`${network}\0${containerId}\0${ifname}`, 8)}`;
