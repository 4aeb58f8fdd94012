import type { Delegate } from '../cni/delegate.js';
import { parseNetworkConfig, resolveClusterNetwork } from '../cni/network-config.js';
import type { MultusConf } from '../config/multus-conf.js';
import { CNI_ERR, CniError } from '../errors.js';

/**
 * Plan a pod's delegates: the cluster network (the master, index 0). Upstream's static
 * `delegates` list is used only when `clusterNetwork` is empty; its first entry is the master.
 */
export async function planDelegates(conf: MultusConf): Promise<Delegate[]> {
  if (conf.clusterNetwork !== '') {
    const net = await resolveClusterNetwork(conf.clusterNetwork, conf.confDir);
    return [{ name: net.name, net, master: true }];
  }
  if (conf.delegates.length === 0) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, 'multus config has neither "clusterNetwork" nor "delegates": no cluster network to attach');
  }
  return conf.delegates.map((raw, i) => {
    const net = parseNetworkConfig(JSON.stringify(raw), `multus config delegates[${i}]`);
    return { name: net.name, net, master: i === 0 };
  });
}
