import type { Logger } from 'pino';
import { delegateIfname, requestedCapabilities, type Delegate } from '../cni/delegate.js';
import { loadDelegates, removeDelegates, saveDelegates, type CachedDelegates } from '../cni/delegate-cache.js';
import type { CniResult } from '../cni/result.js';
import type { Attachment, Runner } from '../cni/runner.js';
import { CNI_ERR, CniError, asCniError } from '../errors.js';
import type { KubeAccess, PodInfo } from '../k8s/protocol.js';
import type { CniRequest, PodRef } from '../server/request.js';
import { applyDefaultRoutes } from './default-route.js';
import { removeFile } from '../util/atomic-write.js';
import { planDelegates } from './planner.js';
import { assignDeviceIds, type DeviceSources } from './device-ids.js';
import { copyDevicePluginInfo, deviceInfoFileOf, deviceInfoPath, readDeviceInfo } from './device-info.js';
import { waitForReadinessIndicator } from './readiness.js';
import { publishPodNetworks } from './pod-status.js';

/**
 * What a pod actor does for each command. Each function runs inside the pod's mailbox, so for
 * one pod at most one of them is running at any time.
 */

/** What an operation did: ADD's result for the runtime, and the networks involved (for the log line). */
export interface OperationOutcome {
  result?: CniResult;
  networks: string[];
  /**
   * Work that need not delay the runtime's answer (the network-status write): the supervisor
   * runs it after replying, still inside the pod's mailbox, so the pod's next operation waits.
   */
  after?: () => Promise<void>;
}

/** What the operations need from the daemon. */
export interface OperationContext {
  runner: Runner;
  log: Logger;
  /** Kubernetes access; undefined when the daemon runs without it (cluster network only). */
  kube: KubeAccess | undefined;
  /** Run `ip <args>` inside a network namespace (off the main thread); rejects with the error text. */
  netnsIp: (netns: string, args: string[]) => Promise<void>;
  /** Bound on the wait for `readinessindicatorfile`. */
  readinessTimeoutMs: number;
  /** Where the pod's allocated devices are read (NADs with a resourceName). */
  devices: DeviceSources;
  /** The device-info directory (`dp/` from device plugins, `cni/` ours). */
  deviceInfoDir: string;
  /** Whether a failed network-status write is retried later (a daemon), or only logged (the thin plugin, which exits). */
  statusRetries: boolean;
}

/** MN-39: ADD, STATUS and GC wait for the default network when the config names its indicator file. */
export function defaultNetworkReady(req: CniRequest, ctx: OperationContext): Promise<void> {
  return req.conf.readinessIndicatorFile === '' ? Promise.resolve() : waitForReadinessIndicator(req.conf.readinessIndicatorFile, ctx.readinessTimeoutMs);
}

/** CNI_ARGS for delegates (upstream §4.5): the pod identity, never the request's raw string. */
function delegateCniArgs(pod: PodRef | undefined): Array<[string, string]> {
  const args: Array<[string, string]> = [['IgnoreUnknown', 'true']];
  if (pod === undefined) return args;
  args.push(['K8S_POD_NAMESPACE', pod.namespace], ['K8S_POD_NAME', pod.name]);
  if (pod.infraContainerId !== '') args.push(['K8S_POD_INFRA_CONTAINER_ID', pod.infraContainerId]);
  if (pod.uid !== '') args.push(['K8S_POD_UID', pod.uid]);
  return args;
}

/**
 * The libcni parameters of one delegate. The master gets the runtime's runtimeConfig; the others
 * only what the pod asked for (MN-46), plus upstream's deprecated `MAC=`/`IP=` CNI_ARGS (MUL-6).
 * A resource-derived deviceID overrides the runtime's. With a deviceID comes upstream's
 * `CNIDeviceInfoFile` in `deviceInfoDir`, named after the delegate, container and interface.
 */
export function attachmentOf(req: CniRequest, delegate: Delegate, index: number, deviceInfoDir: string): Attachment {
  const cniArgs = delegateCniArgs(req.pod);
  const requests = delegate.requests;
  if (requests?.mac !== undefined) cniArgs.push(['MAC', requests.mac]);
  if (requests?.ips !== undefined) cniArgs.push(['IP', requests.ips.join(',')]);
  const ifname = delegateIfname(delegate, index, req.ifname);
  const capabilityArgs = delegate.master ? { ...req.conf.runtimeConfig } : requestedCapabilities(requests);
  if (requests?.deviceID !== undefined) capabilityArgs.deviceID = requests.deviceID;
  if (typeof capabilityArgs.deviceID === 'string' && capabilityArgs.deviceID !== '') {
    capabilityArgs.CNIDeviceInfoFile = deviceInfoPath(deviceInfoDir, delegate.name, req.containerId, ifname);
  }
  return { containerId: req.containerId, netns: req.netns, ifname, cniArgs, capabilityArgs };
}

/**
 * MN-15/16/19/20/22: a requested ips/mac/portMappings/bandwidth/infinibandGUID must reach a plugin
 * that declares the capability, else the attachment fails (upstream does not check, MUL-12).
 */
export function checkCapabilities(delegates: readonly Delegate[]): void {
  for (const d of delegates) {
    const { deviceID: _deviceID, ...checked } = requestedCapabilities(d.requests);
    for (const cap of Object.keys(checked)) {
      if (!d.net.plugins.some((p) => p.capabilities?.[cap] === true)) {
        throw new CniError(CNI_ERR.INVALID_CONFIG, `network "${d.name}" cannot honour the requested "${cap}": none of its plugins declares the "${cap}" capability`);
      }
    }
  }
}

/** What the pod lookup decided for an ADD. */
type PodForAdd = { kind: 'pod'; pod: PodInfo | undefined } | { kind: 'gone' };

/**
 * Cache first, live GET on a miss or uid change (in the kube worker). A pod that no longer
 * exists gets upstream's answer: success with an empty result, nothing run.
 */
async function podForAdd(req: CniRequest, kube: KubeAccess | undefined): Promise<PodForAdd> {
  if (kube === undefined || req.pod === undefined) return { kind: 'pod', pod: undefined };
  const lookup = await kube.getPod(req.pod.namespace, req.pod.name, req.pod.uid);
  switch (lookup.kind) {
    case 'found':
      return { kind: 'pod', pod: lookup.pod };
    case 'missing':
      return { kind: 'gone' };
    case 'uid-mismatch':
      throw new CniError(CNI_ERR.INTERNAL, `expected pod UID "${req.pod.uid}" but got "${lookup.pod.uid}" from Kube API: pod ${req.pod.namespace}/${req.pod.name} was re-created and this sandbox is stale`);
    case 'error':
      throw new CniError(CNI_ERR.TRY_AGAIN_LATER, lookup.message);
  }
}

/** MN-17: two attachments may not share an interface name; refused before anything runs. */
function checkIfnamesUnique(req: CniRequest, delegates: readonly Delegate[]): void {
  const seen = new Map<string, string>();
  delegates.forEach((d, i) => {
    const ifname = delegateIfname(d, i, req.ifname);
    const other = seen.get(ifname);
    if (other !== undefined) {
      throw new CniError(CNI_ERR.INVALID_CONFIG, `interface name ${ifname} is requested by both "${other}" and "${d.name}"`);
    }
    seen.set(ifname, d.name);
  });
}

function podLabel(req: CniRequest, delegate: Delegate): string {
  const pod = req.pod;
  return pod === undefined ? delegate.name : `${pod.namespace}/${pod.name}/${pod.uid}:${delegate.name}`;
}

/**
 * DEL the started delegates in reverse order, attempting every one (DEL is best effort) and
 * returning the failures; those never started have nothing to undo. Used by DEL, by ADD's
 * rollback and by GC.
 */
export async function deleteAll(req: CniRequest, { delegates, started }: CachedDelegates, ctx: OperationContext): Promise<CniError[]> {
  const errors: CniError[] = [];
  if (started < delegates.length) ctx.log.debug({ sandbox: req.containerId, networks: delegates.slice(started).map((d) => d.name) }, 'not deleting networks whose ADD never started');
  for (let i = started - 1; i >= 0; i--) {
    const d = delegates[i] as Delegate;
    const a = attachmentOf(req, d, i, ctx.deviceInfoDir);
    try {
      const skipped = await ctx.runner.del(d.net, a);
      if (skipped.length > 0) ctx.log.debug({ sandbox: req.containerId, net: d.name, plugins: skipped }, 'DEL skipped plugins that cannot be found (type refused, or in no bin dir): they never ran');
    } catch (err) {
      const e = asCniError(err);
      errors.push(new CniError(e.code, `[${podLabel(req, d)}]: error deleting container from network "${d.net.name}": ${e.message}`, e.details, { cause: e.cause }));
    }
    // Removed even when the DEL failed: the cache may be dropped with it, and nothing else would.
    const infoFile = deviceInfoFileOf(a);
    if (infoFile !== undefined) await removeFile(infoFile).catch((err: unknown) => ctx.log.warn({ err, file: infoFile }, 'cannot remove a device-info file'));
  }
  return errors;
}

function combine(errors: readonly CniError[]): CniError {
  const first = errors[0] as CniError;
  return errors.length === 1 ? first : new CniError(first.code, errors.map((e) => e.message).join(' / '), first.details);
}

/**
 * ADD: plan, then run each delegate, recording it as started in the delegate cache BEFORE its
 * plugin runs (so a crash can always be undone by DEL, and a DEL runs no delegate that never
 * started), and on failure roll back the started ones in reverse order. A successful rollback
 * also removes the cache: a failed ADD leaves nothing behind.
 */
export async function addPod(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
  await defaultNetworkReady(req, ctx);
  const found = await podForAdd(req, ctx.kube);
  if (found.kind === 'gone') {
    ctx.log.info({ sandbox: req.containerId }, 'ADD for a pod that no longer exists: nothing to attach');
    return { result: { cniVersion: '1.1.0', interfaces: [{ name: req.ifname, sandbox: req.netns }], ips: [{ address: '0.0.0.0/0', gateway: '0.0.0.0', interface: 0 }] }, networks: [] };
  }
  const pod = found.pod;
  const planned = await planDelegates({ conf: req.conf, pod, kube: ctx.kube });
  const delegates = await assignDeviceIds(planned, pod, ctx.devices, ctx.kube);
  checkCapabilities(delegates);
  checkIfnamesUnique(req, delegates);
  const cniDir = req.conf.cniDir;
  // An ADD retried without a DEL in between (runtime timeout, daemon restart) would trip over
  // its own leftovers ("interface net1 already exists", upstream #1089): undo them first.
  const previous = await loadDelegates(cniDir, req.containerId);
  if (previous.kind === 'found') {
    ctx.log.warn({ sandbox: req.containerId }, 'ADD for a container that was never deleted: removing its previous attachments first');
    const errors = await deleteAll(req, previous, ctx);
    if (errors.length > 0) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `cannot clean up the previous ADD of this container: ${combine(errors).message}`);
  }
  let results: CniResult[] = [];
  const deviceInfos: Array<Record<string, unknown> | undefined> = [];
  let started = 0;
  for (const [i, d] of delegates.entries()) {
    const a = attachmentOf(req, d, i, ctx.deviceInfoDir);
    try {
      await saveDelegates(cniDir, req.containerId, { delegates, started: i + 1 });
      started = i + 1;
      await provideDeviceInfo(d, a, ctx);
      results.push(await ctx.runner.add(d.net, a));
      deviceInfos.push(await publishedDeviceInfo(a, ctx));
    } catch (err) {
      await rollback(req, { delegates, started }, ctx);
      const e = asCniError(err);
      throw new CniError(e.code, `[${podLabel(req, d)}]: error adding container to network "${d.net.name}": ${e.message}`, e.details, { cause: e.cause });
    }
  }
  if (delegates.some((d) => (d.requests?.defaultRoute ?? []).length > 0)) {
    try {
      results = await defaultRoutes(req, delegates, results, ctx);
    } catch (err) {
      await rollback(req, { delegates, started }, ctx);
      throw err;
    }
  }
  const masterIndex = Math.max(0, delegates.findIndex((d) => d.master));
  const outcome: OperationOutcome = { result: results[masterIndex] as CniResult, networks: delegates.map((d) => d.name) };
  const kube = ctx.kube;
  if (pod !== undefined && kube !== undefined) outcome.after = () => publishPodNetworks(pod, delegates, results, deviceInfos, req.ifname, kube, ctx.log, ctx.statusRetries);
  return outcome;
}

/**
 * Before a delegate with a device runs: the device plugin's description of the device becomes
 * the delegate's device-info file. As upstream, a copy that fails is logged, not fatal: the
 * plugin may write the file itself.
 */
async function provideDeviceInfo(d: Delegate, a: Attachment, ctx: OperationContext): Promise<void> {
  const target = deviceInfoFileOf(a);
  const deviceID = d.requests?.deviceID;
  if (target === undefined || d.resourceName === undefined || deviceID === undefined) return;
  try {
    await copyDevicePluginInfo(ctx.deviceInfoDir, d.resourceName, deviceID, target);
  } catch (err) {
    ctx.log.warn({ err, net: d.name, file: target }, 'cannot copy the device plugin\'s device-info');
  }
}

/** After a delegate's ADD: its device-info file, for network-status (unreadable → logged, left out). */
async function publishedDeviceInfo(a: Attachment, ctx: OperationContext): Promise<Record<string, unknown> | undefined> {
  const file = deviceInfoFileOf(a);
  if (file === undefined) return undefined;
  try {
    return await readDeviceInfo(file);
  } catch (err) {
    ctx.log.warn({ err, file }, 'device-info file unreadable; network-status goes without it');
    return undefined;
  }
}

/** Undo a failed ADD; a complete rollback also removes the delegate cache. */
async function rollback(req: CniRequest, cached: CachedDelegates, ctx: OperationContext): Promise<void> {
  const errors = await deleteAll(req, cached, ctx);
  if (errors.length === 0) await removeDelegates(req.conf.cniDir, req.containerId);
  else ctx.log.error({ sandbox: req.containerId, err: combine(errors) }, 'rollback after a failed ADD was incomplete; the delegate cache is kept for the DEL that follows');
}

/** Apply default-route requests in the pod and rewrite the cached results they changed. */
async function defaultRoutes(req: CniRequest, delegates: readonly Delegate[], results: readonly CniResult[], ctx: OperationContext): Promise<CniResult[]> {
  const ifnames = delegates.map((d, i) => delegateIfname(d, i, req.ifname));
  const applied = await applyDefaultRoutes(delegates, results, ifnames, (args) => ctx.netnsIp(req.netns, args));
  for (const i of applied.changed) {
    const d = delegates[i] as Delegate;
    await ctx.runner.recache(d.net, attachmentOf(req, d, i, ctx.deviceInfoDir), applied.results[i] as CniResult);
  }
  return applied.results;
}

/**
 * DEL from the delegate cache: works without the netns, the pod or the API server. No cache
 * means there is nothing we ever started for this container (the cache is written before any
 * delegate runs), so a repeated DEL costs no plugin runs; the delegates it names that the ADD
 * never started are skipped too. A corrupt cache falls back to the configured cluster network,
 * so its IP is still released (upstream #1087).
 */
export async function delPod(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
  const cniDir = req.conf.cniDir;
  const lookup = await loadDelegates(cniDir, req.containerId);
  let cached: CachedDelegates;
  if (lookup.kind === 'missing') {
    ctx.log.debug({ sandbox: req.containerId }, 'DEL: no delegate cache, nothing to delete');
    return { networks: [] };
  } else if (lookup.kind === 'corrupt') {
    ctx.log.warn({ sandbox: req.containerId, reason: lookup.reason }, 'DEL: delegate cache unreadable, deleting the configured cluster network instead');
    const delegates = await planDelegates({ conf: req.conf, pod: undefined, kube: undefined });
    cached = { delegates, started: delegates.length };
  } else {
    cached = lookup;
  }
  const errors = await deleteAll(req, cached, ctx);
  if (errors.length === 0 || !req.conf.retryDeleteOnError) await removeDelegates(cniDir, req.containerId);
  if (errors.length > 0) throw combine(errors);
  return { networks: cached.delegates.slice(0, cached.started).map((d) => d.name) };
}

/** CHECK every cached delegate against its cached result. */
export async function checkPod(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
  const lookup = await loadDelegates(req.conf.cniDir, req.containerId);
  if (lookup.kind !== 'found') {
    throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `CHECK: container ${req.containerId} has no usable delegate cache (${lookup.kind === 'corrupt' ? lookup.reason : 'never added'})`);
  }
  for (const [i, d] of lookup.delegates.entries()) {
    await ctx.runner.check(d.net, attachmentOf(req, d, i, ctx.deviceInfoDir));
  }
  return { networks: lookup.delegates.map((d) => d.name) };
}
