import type { AttachmentRequests } from '../cni/delegate.js';
import { checkContainerId } from '../cni/delegate-cache.js';
import { parseNetworkConfig } from '../cni/network-config.js';
import type { NetworkConfig } from '../cni/types.js';
import { readMultusConf, type MultusConf } from '../config/multus-conf.js';
import { CNI_ERR, CniError } from '../errors.js';
import { withCniArgs } from '../k8s/nad-config.js';
import { parseNetworkSelections } from '../k8s/selection.js';
import { checkIfname, decodeBody, podFromArgs, type PodRef } from './request.js';

/**
 * A request of the `/delegate` hot-plug API (upstream §5.9, the dynamic-networks controller):
 * `{"env":{CNI_COMMAND,CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_ARGS},"config":"<base64 of ONE
 * delegate's CNI config>","interfaceAttributes":{"ips":[…],"mac":"…","cni-args":{…}}}`.
 */
export interface DelegateRequest {
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS';
  containerId: string;
  netns: string;
  ifname: string;
  pod: PodRef;
  /** The delegate's config, with the attributes' cni-args merged in. */
  net: NetworkConfig;
  requests: AttachmentRequests | undefined;
  /** Dirs and defaults from the daemon config (there is no multus config in this request). */
  conf: MultusConf;
}

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS'] as const;

/**
 * The attributes use the selection element's keys; they are validated by the same parser, so
 * a bad `ips` or `mac` is refused with the same message a pod annotation would get.
 */
function attributes(raw: unknown): { requests: AttachmentRequests | undefined; cniArgs: Record<string, unknown> | undefined } {
  if (raw === undefined || raw === null) return { requests: undefined, cniArgs: undefined };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new CniError(CNI_ERR.DECODE, '"interfaceAttributes" must be an object');
  const [sel] = parseNetworkSelections(JSON.stringify([{ ...raw, name: 'delegate' }]), 'default', 'interfaceAttributes');
  const requests: AttachmentRequests = {};
  if (sel?.ips !== undefined) requests.ips = sel.ips;
  if (sel?.mac !== undefined) requests.mac = sel.mac;
  return { requests: Object.keys(requests).length > 0 ? requests : undefined, cniArgs: sel?.cniArgs };
}

/** Decode and validate a /delegate body; `daemonConfig` provides binDir, cniDir and the like. */
export function decodeDelegateRequest(body: Buffer, daemonConfig: Record<string, unknown>): DelegateRequest {
  const { env, stdin, interfaceAttributes } = decodeBody(body);
  const command = env.CNI_COMMAND ?? '';
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CNI_ERR.INVALID_ENV, `/delegate supports CNI_COMMAND ${COMMANDS.join(', ')}; got ${JSON.stringify(command)}`);
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  if (command !== 'STATUS') {
    if (containerId === '') throw new CniError(CNI_ERR.INVALID_ENV, 'required env variable CNI_CONTAINERID missing');
    if (ifname === '') throw new CniError(CNI_ERR.INVALID_ENV, 'required env variable CNI_IFNAME missing');
    checkContainerId(containerId);
    checkIfname(ifname);
  }
  const netns = env.CNI_NETNS ?? '';
  if (netns === '' && (command === 'ADD' || command === 'CHECK')) throw new CniError(CNI_ERR.INVALID_ENV, 'required env variable CNI_NETNS missing');
  let net = parseNetworkConfig(JSON.stringify(stdin), 'the /delegate config');
  const { requests, cniArgs } = attributes(interfaceAttributes);
  if (cniArgs !== undefined) net = withCniArgs(net, cniArgs);
  return { command: command as DelegateRequest['command'], containerId, netns, ifname, pod: podFromArgs(env.CNI_ARGS), net, requests, conf: readMultusConf(daemonConfig) };
}
