// loopback: Docker's `none` network. ADD sets `lo` up and reports its addresses.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { inContainerNetns, inNetnsIfPresent } from '../../shared/cni/netns.ts';
import type { Plugin } from '../../shared/cni/plugin.ts';
import type { Result } from '../../shared/cni/result.ts';
import { baseSchema, configSchema, type BaseConf } from '../../shared/cni/schema.ts';
import { isLoopback, parseIP } from '../../shared/util/ip.ts';
import { listAddresses } from '../../shared/netlink/addr.ts';
import { isUp, requireLink, setLink } from '../../shared/netlink/link.ts';
import { arrFilter, arrFind, arrMap } from '../../shared/util/arrays.ts';

export const loopback: Plugin<BaseConf> = {
  type: 'loopback',
  config: configSchema('loopback', baseSchema),

  add({ env, prevResult, version }) {
    const ips = inContainerNetns(env.netns, (_ns, nl) => {
      const lo = requireLink(nl, 'lo');
      setLink(nl, lo.index, { up: true });
      const addrs = listAddresses(nl, { index: lo.index });
      for (const a of addrs) {
        if (!isLoopback(parseIP(a.ip)!)) throw new CniError(ErrCode.Plugin, `loopback interface found with non-loopback address "${a.ip}"`);
      }
      // the first address of each family, as the reference reports them
      return arrFilter([arrFind(addrs, (a) => a.family === 4), arrFind(addrs, (a) => a.family === 6)], (a) => a !== undefined);
    });
    // chained after another plugin, loopback passes the previous result through
    if (prevResult) return prevResult;
    const r: Result = { cniVersion: version, interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: env.netns }] };
    if (ips.length) r.ips = arrMap(ips, (a) => ({ interface: 0, address: a.cidr }));
    return r;
  },

  del({ env }) {
    inNetnsIfPresent(env.netns, (_ns, nl) => setLink(nl, requireLink(nl, 'lo').index, { up: false }));
  },

  check({ env }) {
    inContainerNetns(env.netns, (_ns, nl) => {
      if (!isUp(requireLink(nl, 'lo'))) throw new CniError(ErrCode.Plugin, 'loopback interface is down');
    });
  },
};
