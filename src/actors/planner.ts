import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AttachmentRequests, Delegate } from '../cni/delegate.js';
import { findNetworkConfigByName, loadPluginConfs, parseNetworkConfig, resolveClusterNetwork } from '../cni/network-config.js';
import type { NetworkConfig } from '../cni/types.js';
import type { MultusConf } from '../config/multus-conf.js';
import { CNI_ERR, CniError } from '../errors.js';
import { nadNetworkConfig, nadResourceName, withCniArgs } from '../k8s/nad-config.js';
import type { KubeAccess, NadInfo, PodInfo } from '../k8s/protocol.js';
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, checkDefaultRoutes, parseDefaultNetwork, parseNetworkSelections, type NetworkSelection } from '../k8s/selection.js';

/**
 * Planning a pod's delegates (upstream §4.1 steps 3–5): the cluster network first (MN-38),
 * replaced by the pod's default-network annotation if any (MUL-1), then `defaultNetworks`
 * (except for pods in systemNamespaces), then one delegate per element of the networks
 * annotation. Nothing is executed here; every error is raised before the first delegate runs.
 */

/** What planning may consult. Without Kubernetes (no kubeconfig), pods get the cluster network only. */
export interface PlanContext {
  conf: MultusConf;
  pod: PodInfo | undefined;
  kube: KubeAccess | undefined;
}

/** A named network: from a NAD (`<ns>/<name>`, maybe with a resourceName), or from a file (its config name). */
interface ResolvedNetwork {
  name: string;
  net: NetworkConfig;
  resourceName?: string;
  /** Where the config came from (Delegate.source). */
  source: string;
}

/** A delegate of a resolved network; a NAD's resourceName comes along. */
function delegateOf({ name, net, resourceName, source }: ResolvedNetwork, master: boolean): Delegate {
  return resourceName === undefined ? { name, net, master, source } : { name, net, master, resourceName, source };
}

/** A NAD's config source: its spec.config, or the confDir file it names by having none. */
function nadSource(nad: NadInfo, confDir: string): string {
  const what = `network-attachment-definition ${nad.namespace}/${nad.name}`;
  return nad.config.trim() !== '' ? `${what} spec.config` : `${what} (no spec.config: the config named "${nad.name}" in confDir ${confDir})`;
}

/**
 * `clusterNetwork` / `defaultNetworks` / default-network values (upstream getNetDelegate): a path
 * when it holds `/`, else a NAD in `namespace`, else a config of that name in confDir.
 */
async function resolveNamedNetwork(value: string, namespace: string, ctx: PlanContext): Promise<ResolvedNetwork> {
  if (value.includes('/')) {
    const net = resolveClusterNetwork(value, ctx.conf.confDir);
    return { name: net.name, net, source: `file ${value}` };
  }
  let apiError: string | undefined;
  if (ctx.kube !== undefined) {
    const lookup = await ctx.kube.getNad(namespace, value);
    if (lookup.kind === 'found') {
      const resolved: ResolvedNetwork = { name: `${namespace}/${value}`, net: nadNetworkConfig(lookup.nad, ctx.conf.confDir), source: nadSource(lookup.nad, ctx.conf.confDir) };
      const resourceName = nadResourceName(lookup.nad);
      if (resourceName !== undefined) resolved.resourceName = resourceName;
      return resolved;
    }
    if (lookup.kind === 'error') apiError = lookup.message;
  }
  const onDisk = findNetworkConfigByName(ctx.conf.confDir, value);
  if (onDisk !== undefined) return { name: onDisk.name, net: onDisk, source: `the config named "${value}" in confDir ${ctx.conf.confDir}` };
  if (apiError !== undefined) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, apiError);
  throw new CniError(
    CNI_ERR.INVALID_CONFIG,
    `network "${value}" not found: no network-attachment-definition ${namespace}/${value}${ctx.kube === undefined ? ' (Kubernetes access is off)' : ''} and no config of that name in confDir ${ctx.conf.confDir}`,
  );
}

/** The cluster network: `clusterNetwork`, else upstream's static `delegates` list (first = master). */
export async function clusterNetwork(ctx: PlanContext): Promise<Delegate[]> {
  const { conf } = ctx;
  if (conf.clusterNetwork !== '') {
    return [delegateOf(await resolveNamedNetwork(conf.clusterNetwork, conf.multusNamespace, ctx), true)];
  }
  if (conf.delegates.length === 0) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, 'multus config has neither "clusterNetwork" nor "delegates": no cluster network to attach');
  }
  return conf.delegates.map((raw, i) => {
    const net = parseNetworkConfig(JSON.stringify(raw), `multus config delegates[${i}]`);
    return { name: net.name, net, master: i === 0, source: `multus config delegates[${i}]` };
  });
}

/** MN-45 / MUL-4: with namespaceIsolation, only the pod's namespace and globalNamespaces. */
function checkIsolation(sel: NetworkSelection, pod: PodInfo, conf: MultusConf): void {
  if (!conf.namespaceIsolation || sel.namespace === pod.namespace || conf.globalNamespaces.includes(sel.namespace)) return;
  throw new CniError(
    CNI_ERR.INVALID_CONFIG,
    `namespace isolation: pod ${pod.namespace}/${pod.name} may not use network-attachment-definition ${sel.namespace}/${sel.name} (allowed: its own namespace and ${conf.globalNamespaces.join(', ')})`,
  );
}

function requestsOf(sel: NetworkSelection): AttachmentRequests | undefined {
  const requests: AttachmentRequests = {};
  if (sel.ips !== undefined) requests.ips = sel.ips;
  if (sel.mac !== undefined) requests.mac = sel.mac;
  if (sel.infinibandGuid !== undefined) requests.infinibandGUID = sel.infinibandGuid;
  if (sel.portMappings !== undefined) requests.portMappings = sel.portMappings;
  if (sel.bandwidth !== undefined) requests.bandwidth = { ...sel.bandwidth };
  if (sel.deviceID !== undefined) requests.deviceID = sel.deviceID;
  if (sel.defaultRoute !== undefined) requests.defaultRoute = sel.defaultRoute;
  return Object.keys(requests).length > 0 ? requests : undefined;
}

/** One attachment from a selection element: its NAD, cni-args merged, requests kept. */
async function selectionDelegate(sel: NetworkSelection, pod: PodInfo, ctx: PlanContext, kube: KubeAccess): Promise<Delegate> {
  checkIsolation(sel, pod, ctx.conf);
  const lookup = await kube.getNad(sel.namespace, sel.name);
  if (lookup.kind === 'error') throw new CniError(CNI_ERR.TRY_AGAIN_LATER, lookup.message);
  if (lookup.kind === 'missing') {
    const message = `cannot find a network-attachment-definition (${sel.name}) in namespace (${sel.namespace})`;
    void kube.recordEvent({ pod, type: 'Warning', reason: 'NoNetworkFound', message });
    throw new CniError(CNI_ERR.INVALID_CONFIG, `${message}, requested by pod ${pod.namespace}/${pod.name}`);
  }
  let net = nadNetworkConfig(lookup.nad, ctx.conf.confDir);
  if (sel.cniArgs !== undefined) net = withCniArgs(net, sel.cniArgs);
  const delegate: Delegate = { name: `${sel.namespace}/${sel.name}`, net, master: false, source: nadSource(lookup.nad, ctx.conf.confDir) };
  const resourceName = nadResourceName(lookup.nad);
  if (resourceName !== undefined) delegate.resourceName = resourceName;
  if (sel.interface !== undefined) delegate.ifnameRequest = sel.interface;
  const requests = requestsOf(sel);
  if (requests !== undefined) delegate.requests = requests;
  return delegate;
}

/** A CNI network name, which the chain's name becomes a directory name from (CNI spec). */
const CHAIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * upstream §4.1 step 6: `auxiliaryCNIChainName` appends a chain headed by `passthru` with the
 * plugins of the `*.conf` files in `<dir of clusterNetwork>/<name>/` (libcni's subdirectory
 * plugins, e.g. sysctl tuning for every pod), only when that directory holds at least one.
 * As upstream, clusterNetwork must be a path (else the ADD fails); a clusterNetwork directory is
 * the base itself (upstream takes its parent). A bad chain name, or a file there that is not a
 * plugin config, fails the ADD with the reason, where upstream logs it and drops the chain.
 * (`loadOnlyInlinedPlugins` would turn the subdirectory off; upstream reads it only from the
 * chain's config it builds in code, so no user sets it.)
 */
async function auxiliaryChain(conf: MultusConf, cluster: NetworkConfig): Promise<Delegate | undefined> {
  const name = conf.auxiliaryCNIChainName;
  if (name === '') return undefined;
  if (!CHAIN_NAME.test(name)) throw new CniError(CNI_ERR.INVALID_CONFIG, `invalid auxiliaryCNIChainName ${JSON.stringify(name)}: a CNI network name (a letter or digit, then letters, digits, "_", "." or "-")`);
  if (!conf.clusterNetwork.includes('/')) throw new CniError(CNI_ERR.INVALID_CONFIG, `auxiliaryCNIChainName "${name}" needs clusterNetwork to be a path (its chain is read from the directory beside it), and it is not: ${conf.clusterNetwork}`);
  const base = (await stat(conf.clusterNetwork).catch(() => undefined))?.isDirectory() === true ? conf.clusterNetwork : dirname(conf.clusterNetwork);
  const plugins = loadPluginConfs(join(base, name));
  if (plugins.length === 0) return undefined;
  const net = parseNetworkConfig(JSON.stringify({ cniVersion: cluster.cniVersion, name, plugins: [{ type: 'passthru', name: 'passthru-cni' }, ...plugins] }), `auxiliary CNI chain ${name}`);
  return { name, net, master: false, auxiliary: true, source: `auxiliary CNI chain: passthru and the configs in ${join(base, name)}` };
}

/** Plan every delegate of a pod, in execution order. */
export async function planDelegates(ctx: PlanContext): Promise<Delegate[]> {
  const { conf, pod, kube } = ctx;
  const delegates = await clusterNetwork(ctx);
  const aux = delegates[0] === undefined ? undefined : await auxiliaryChain(conf, delegates[0].net);
  if (pod === undefined || kube === undefined) return aux === undefined ? delegates : [...delegates, aux];

  const override = pod.annotations[DEFAULT_NETWORK_ANNOTATION];
  if (override !== undefined && override.trim() !== '') {
    const sel = parseDefaultNetwork(override, conf.multusNamespace);
    delegates[0] = delegateOf(await resolveNamedNetwork(sel.name, sel.namespace, ctx), true);
  }
  if (!conf.systemNamespaces.includes(pod.namespace)) {
    for (const value of conf.defaultNetworks) {
      delegates.push(delegateOf(await resolveNamedNetwork(value, conf.multusNamespace, ctx), false));
    }
  }
  const selections = parseNetworkSelections(pod.annotations[NETWORKS_ANNOTATION] ?? '', pod.namespace, NETWORKS_ANNOTATION);
  checkDefaultRoutes(selections);
  for (const sel of selections) delegates.push(await selectionDelegate(sel, pod, ctx, kube));
  if (aux !== undefined) delegates.push(aux);
  return delegates;
}
