import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attachmentOf } from '../actors/attachment.js';
import { requestedGateways } from '../actors/default-route.js';
import type { DeviceSources } from '../actors/device-ids.js';
import { planAttachments, podForAdd } from '../actors/pod-operations.js';
import { formatCniArgs } from '../cni/args.js';
import type { Delegate } from '../cni/delegate.js';
import { PluginLookupError, findPlugin } from '../cni/exec.js';
import { pluginStdin } from '../cni/runner.js';
import { isJsonObject, type JsonObject } from '../cni/types.js';
import { stringOr } from '../config/daemon-config.js';
import { MULTUS_CONF_NAME } from '../config/multus-conf-generator.js';
import { pluginDirs } from '../config/multus-conf.js';
import { CNI_ERR, CniError, asCniError } from '../errors.js';
import type { KubeAccess, KubeReader, PodInfo } from '../k8s/protocol.js';
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION } from '../k8s/selection.js';
import { cniRequestFrom, type CniRequest } from '../server/request.js';
import { attachedNow, type AttachedNow } from './attached.js';
import { annotationTypos, findingOf, withHint, type Finding } from './rules.js';

/**
 * `multus-daemon explain`: what an ADD of a pod would do on this node, and why it would fail,
 * without running anything. The plan is ADD's own (planAttachments: the same planner, device
 * IDs and checks), the plugin lookup is the runner's (findPlugin), the parameters are the
 * runner's (attachmentOf, pluginStdin). Nothing here can spawn a process or write to the API:
 * explain gets no runner and only the reading half of Kubernetes access.
 */

/** The JSON document's schema id; bump it on an incompatible change. */
export const EXPLAIN_SCHEMA = 'multus-ts.explain/v1';

/** The container ID the plan is made for (it only appears in CNIDeviceInfoFile paths). */
const PLACEHOLDER_CONTAINER = 'CONTAINERID';

/** Which pod: one in the cluster, or a manifest (which need not exist). */
export type ExplainTarget = { kind: 'cluster'; namespace: string; name: string } | { kind: 'manifest'; pod: PodInfo };

/** What explain reads. Deliberately no runner, no pool, no writer. */
export interface ExplainDeps {
  /** The daemon config (merged over each request's config, as for a real ADD). */
  daemonConfig: JsonObject;
  kube: KubeReader | undefined;
  /** The daemon's CNI_PATH, searched after binDir. */
  cniPath: string;
  chrootDir: string;
  devices: DeviceSources;
  deviceInfoDir: string;
}

/** One plugin of an attachment's chain. */
export interface ExplainedPlugin {
  type: string;
  /** Where the runner would find it; absent when it would not. */
  binary?: string;
  /** The runtimeConfig this plugin would get (only the capabilities it declares). */
  runtimeConfig?: Record<string, unknown>;
  /** Its `args.cni` (the NAD's, with the pod's cni-args merged over them). */
  cniArgs?: Record<string, unknown>;
}

/** One attachment, in execution order. */
export interface ExplainedAttachment {
  ifname: string;
  /** `<ns>/<nad>`, or the network name of a config file. */
  network: string;
  source: string;
  /** The cluster network (the runtime's interface; its result is the ADD's). */
  master: boolean;
  /** The auxiliary chain creates no interface. */
  auxiliary: boolean;
  plugins: ExplainedPlugin[];
  /** Capability values offered to the chain (each plugin takes those it declares). */
  capabilityArgs: Record<string, unknown>;
  /** CNI_ARGS the plugins get. */
  cniArgs: string;
  resourceName?: string;
  /** Gateways asked for with `default-route`. */
  defaultRoute?: string[];
}

/** Which interface gets the default route of a family. */
export interface DefaultRouteOwner {
  family: 4 | 6;
  ifname: string;
  /** The requested gateway; absent when no attachment asked (the plugins' results decide). */
  gateway?: string;
}

export interface ExplainReport {
  schema: typeof EXPLAIN_SCHEMA;
  pod: { namespace: string; name: string; uid: string; from: 'cluster' | 'manifest' };
  /** ok: the ADD would succeed; fail: it would fail; unknown: it depends on an API that did not answer. */
  verdict: 'ok' | 'fail' | 'unknown';
  config: { multusConf: string | null; binDirs: string[]; confDir: string; kubernetes: boolean };
  attachments: ExplainedAttachment[];
  defaultRoute: DefaultRouteOwner[];
  errors: Finding[];
  warnings: Finding[];
  /**
   * For a pod read from the cluster: what its sandboxes on this node have attached now (the
   * caches) and its network-status, and where they drift from the plan; no sandboxes when it
   * does not run here.
   */
  attached?: AttachedNow;
}

/** Explain itself could not run (exit code 2): no such pod, no Kubernetes access, bad config. */
export class ExplainUnavailable extends Error {
  constructor(
    message: string,
    readonly reason: 'not-found' | 'bad-input' | 'unavailable',
  ) {
    super(message);
  }
}

/**
 * The runtime's stdin on this node: 00-multus.conf in `cniConfigDir` when it is there (as the
 * config manager writes it), else a bare config; the daemon config is merged over it either way.
 */
async function nodeMultusConf(daemonConfig: JsonObject): Promise<{ stdin: JsonObject; path: string | null }> {
  const path = join(stringOr(daemonConfig, 'cniConfigDir', '/etc/cni/net.d'), MULTUS_CONF_NAME);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return { stdin: { cniVersion: '1.0.0', name: 'multus-cni-network' }, path: null };
  let stdin: unknown;
  try {
    stdin = JSON.parse(text);
  } catch (err) {
    throw new ExplainUnavailable(`${path} is not valid JSON: ${(err as Error).message}`, 'bad-input');
  }
  if (!isJsonObject(stdin)) throw new ExplainUnavailable(`${path} must be a JSON object`, 'bad-input');
  return { stdin, path };
}

/** The ADD request a runtime would send for the pod's sandbox. */
function addRequest(stdin: JsonObject, daemonConfig: JsonObject, namespace: string, name: string, uid: string): CniRequest {
  const env = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: PLACEHOLDER_CONTAINER,
    CNI_NETNS: '/var/run/netns/explain',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_UID=${uid}`,
  };
  try {
    return cniRequestFrom(env, stdin, daemonConfig);
  } catch (err) {
    throw new ExplainUnavailable(`the node's multus config is unusable: ${(err as Error).message}`, 'bad-input');
  }
}

/**
 * Planning reaches Kubernetes through KubeAccess, which can also write; explain's has no writer:
 * the missing-NAD event is not recorded, and a status patch (never part of planning) is refused.
 */
function readOnly(kube: KubeReader): KubeAccess {
  return {
    getPod: (ns, name, uid) => kube.getPod(ns, name, uid),
    getNad: (ns, name) => kube.getNad(ns, name),
    draDevices: (pod) => kube.draDevices(pod),
    recordEvent: () => Promise.resolve(),
    patchNetworkStatus: () => Promise.reject(new Error('explain never writes to the API server')),
    publishNetworkStatus: () => Promise.reject(new Error('explain never writes to the API server')),
  };
}

/** The pod as ADD would see it. */
async function targetPod(target: ExplainTarget, req: CniRequest, kube: KubeAccess | undefined): Promise<PodInfo> {
  if (target.kind === 'manifest') return target.pod;
  if (kube === undefined) throw new ExplainUnavailable('no Kubernetes access (kubeconfig key, KUBECONFIG or in-cluster): cannot read the pod; pass its manifest with -f', 'unavailable');
  let found;
  try {
    found = await podForAdd(req, kube);
  } catch (err) {
    throw new ExplainUnavailable((err as Error).message, 'unavailable');
  }
  if (found.kind === 'gone' || found.pod === undefined) throw new ExplainUnavailable(`pod ${target.namespace}/${target.name} not found`, 'not-found');
  return found.pod;
}

/** Where the runner would find each plugin of a delegate, and what it would pass it. */
function pluginsOf(d: Delegate, capabilityArgs: Record<string, unknown>, binDirs: readonly string[], chrootDir: string): { plugins: ExplainedPlugin[]; errors: Finding[] } {
  const plugins: ExplainedPlugin[] = [];
  const errors: Finding[] = [];
  for (const plugin of d.net.plugins) {
    const shown: ExplainedPlugin = { type: plugin.type };
    try {
      shown.binary = findPlugin(plugin.type, binDirs, chrootDir);
    } catch (err) {
      const e = err instanceof PluginLookupError ? new CniError(err.body.code, err.body.msg, err.body.details) : asCniError(err);
      errors.push({ ...findingOf(e), message: `network "${d.name}": ${e.message}` });
    }
    const { runtimeConfig } = JSON.parse(pluginStdin(d.net, plugin, capabilityArgs, undefined)) as { runtimeConfig?: Record<string, unknown> };
    if (runtimeConfig !== undefined) shown.runtimeConfig = runtimeConfig;
    const args = plugin.args;
    if (isJsonObject(args) && isJsonObject(args.cni)) shown.cniArgs = args.cni;
    plugins.push(shown);
  }
  return { plugins, errors };
}

/** Each family's default-route owner: the attachment that asked for it, else the cluster network. */
function defaultRouteOwners(delegates: readonly Delegate[], ifnames: readonly string[]): DefaultRouteOwner[] {
  const requested = requestedGateways(delegates).map(({ family, gw, owner }) => ({ family, ifname: ifnames[owner] ?? '', gateway: gw }));
  const masterIfname = ifnames[Math.max(0, delegates.findIndex((d) => d.master))] ?? 'eth0';
  return ([4, 6] as const).map((family) => requested.find((r) => r.family === family) ?? { family, ifname: masterIfname });
}

/** Explain the ADD of one pod on this node. Throws ExplainUnavailable when it cannot tell. */
export async function explainPod(target: ExplainTarget, deps: ExplainDeps): Promise<ExplainReport> {
  const { stdin, path } = await nodeMultusConf(deps.daemonConfig);
  const ref = target.kind === 'cluster' ? { namespace: target.namespace, name: target.name, uid: '' } : target.pod;
  const kube = deps.kube === undefined ? undefined : readOnly(deps.kube);
  const lookup = addRequest(stdin, deps.daemonConfig, ref.namespace, ref.name, ref.uid);
  const pod = await targetPod(target, lookup, kube);
  const req = addRequest(stdin, deps.daemonConfig, pod.namespace, pod.name, pod.uid);
  const binDirs = pluginDirs(req.conf, deps.cniPath);
  const report: ExplainReport = {
    schema: EXPLAIN_SCHEMA,
    pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid, from: target.kind },
    verdict: 'ok',
    config: { multusConf: path, binDirs, confDir: req.conf.confDir, kubernetes: kube !== undefined },
    attachments: [],
    defaultRoute: [],
    errors: [],
    warnings: annotationTypos(pod.annotations, [NETWORKS_ANNOTATION, DEFAULT_NETWORK_ANNOTATION]),
  };
  if (kube === undefined) report.warnings.push({ rule: 'no-kubernetes', code: 0, message: 'no Kubernetes access: the pod gets the cluster network only, its annotations are not read', fix: 'set "kubeconfig" in the daemon config, or KUBECONFIG' });
  let delegates: Delegate[];
  try {
    delegates = await planAttachments(req, pod, { kube, devices: deps.devices });
  } catch (err) {
    report.errors.push(await withHint(findingOf(asCniError(err)), deps.kube));
    report.verdict = report.errors.some((e) => e.code === CNI_ERR.TRY_AGAIN_LATER) ? 'unknown' : 'fail';
    // What it has now still tells (a NAD deleted under a running pod); there is no plan to compare.
    if (target.kind === 'cluster') report.attached = await attachedNow(req.conf.cniDir, pod, undefined);
    return report;
  }
  const ifnames: string[] = [];
  for (const [i, d] of delegates.entries()) {
    const a = attachmentOf(req, d, i, deps.deviceInfoDir);
    ifnames.push(a.ifname);
    const { plugins, errors } = pluginsOf(d, a.capabilityArgs, binDirs, deps.chrootDir);
    report.errors.push(...errors);
    const row: ExplainedAttachment = { ifname: a.ifname, network: d.name, source: d.source ?? '', master: d.master, auxiliary: d.auxiliary === true, plugins, capabilityArgs: a.capabilityArgs, cniArgs: formatCniArgs(a.cniArgs) };
    if (d.resourceName !== undefined) row.resourceName = d.resourceName;
    if (d.requests?.defaultRoute !== undefined) row.defaultRoute = d.requests.defaultRoute;
    report.attachments.push(row);
  }
  report.defaultRoute = defaultRouteOwners(delegates, ifnames);
  if (report.errors.length > 0) report.verdict = 'fail';
  if (target.kind === 'cluster') report.attached = await attachedNow(req.conf.cniDir, pod, delegates.map((d) => d.name));
  return report;
}

/** The command's exit code for a verdict: 0 the ADD would succeed, 1 it would fail, 2 cannot tell. */
export function exitCodeOf(report: ExplainReport): number {
  return report.verdict === 'ok' ? 0 : report.verdict === 'fail' ? 1 : 2;
}
