import type { Logger } from 'pino';
import { delegateIfname, requestedCapabilities, type Delegate } from '../cni/delegate.js';
import { loadDelegates, saveDelegates, startedUpTo, type CachedDelegates } from '../cni/delegate-cache.js';
import type { CniResult } from '../cni/result.js';
import type { Attachment, Runner } from '../cni/runner.js';
import { CNI_ERR, CniError, asCniError } from '../errors.js';
import type { KubeAccess, PodInfo } from '../k8s/protocol.js';
import type { CniRequest, PodRef } from '../server/request.js';
import { attachmentOf, podLabel } from './attachment.js';
import { applyDefaultRoutes } from './default-route.js';
import { planDelegates } from './planner.js';
import { assignDeviceIds, type DeviceSources } from './device-ids.js';
import { copyDevicePluginInfo, deviceInfoFileOf, readDeviceInfo } from './device-info.js';
import { waitForReadinessIndicator } from './readiness.js';
import { publishPodNetworks } from './pod-status.js';
import { combine, undoDelegates, type AbandonReason } from './undo.js';

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

/**
 * What one request's operation may do beyond its own work (the supervisor provides it; the thin
 * plugin, one request per process, has a plain version).
 */
export interface RequestScope {
  /** Aborted, with a retryable CniError as its reason, when the client left or the deadline passed. */
  signal: AbortSignal;
  /**
   * Run `job` after `delayMs`, in the pod's mailbox, unless a later ADD or DEL of the pod comes
   * first (a failed network-status write's retry). Undefined where nothing outlives the request.
   */
  retryLater: ((delayMs: number, job: () => Promise<void>) => void) | undefined;
  /** Run `job` in the mailbox of another pod (GC deleting one of its stale containers). */
  inPodMailbox: <T>(pod: PodRef | undefined, job: () => Promise<T>) => Promise<T>;
}

/** What the operations need from the daemon. */
export interface OperationContext extends RequestScope {
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
  /** A delegate DEL given up (the daemon counts them; see undo.ts). */
  deleteAbandoned: (reason: AbandonReason) => void;
}

/** MN-39: ADD, STATUS and GC wait for the default network when the config names its indicator file. */
export function defaultNetworkReady(req: CniRequest, ctx: OperationContext): Promise<void> {
  return req.conf.readinessIndicatorFile === '' ? Promise.resolve() : waitForReadinessIndicator(req.conf.readinessIndicatorFile, ctx.readinessTimeoutMs);
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
export type PodForAdd = { kind: 'pod'; pod: PodInfo | undefined } | { kind: 'gone' };

/**
 * Cache first, live GET on a miss or uid change (in the kube worker). A pod that no longer
 * exists gets upstream's answer: success with an empty result, nothing run.
 */
export async function podForAdd(req: CniRequest, kube: KubeAccess | undefined): Promise<PodForAdd> {
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

/** What planning reads (and never writes): a subset of the operations' context. */
export type PlanningContext = Pick<OperationContext, 'kube' | 'devices'>;

/**
 * ADD's whole plan, nothing run: the delegates in execution order with their devices, every
 * check that can refuse the pod done. `multus-daemon explain` calls exactly this, so its verdict
 * is the ADD's.
 */
export async function planAttachments(req: CniRequest, pod: PodInfo | undefined, ctx: PlanningContext): Promise<Delegate[]> {
  const planned = await planDelegates({ conf: req.conf, pod, kube: ctx.kube });
  const delegates = await assignDeviceIds(planned, pod, ctx.devices, ctx.kube);
  checkCapabilities(delegates);
  checkIfnamesUnique(req, delegates);
  return delegates;
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
  ctx.signal.throwIfAborted();
  const delegates = await planAttachments(req, pod, ctx);
  const cniDir = req.conf.cniDir;
  // An ADD retried without a DEL in between (runtime timeout, daemon restart) would trip over
  // its own leftovers ("interface net1 already exists", upstream #1089): undo them first.
  const previous = loadDelegates(cniDir, req.containerId);
  if (previous.kind === 'found') {
    ctx.log.warn({ sandbox: req.containerId }, 'ADD for a container that was never deleted: removing its previous attachments first');
    const { pending } = await undoDelegates(req, previous, 'del', ctx);
    if (pending.length > 0) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `cannot clean up the previous ADD of this container: ${combine(pending).message}`);
  }
  let results: CniResult[] = [];
  const deviceInfos: Array<Record<string, unknown> | undefined> = [];
  let started = 0;
  for (const [i, d] of delegates.entries()) {
    const a = attachmentOf(req, d, i, ctx.deviceInfoDir);
    try {
      // A step boundary: a request given up (client gone, deadline) stops here and rolls back.
      ctx.signal.throwIfAborted();
      // One durable write per ADD: the first, which creates the cache with every planned
      // delegate, is fsync'd; the next ones only mark one more delegate started and are not. A
      // process crash loses none of them (the page cache keeps them). After a power loss a later
      // one may be lost, but only together with what the delegate it marks wrote to the same
      // filesystem after it (the journal commits in order; host-local does not fsync its
      // reservations either), and every interface went with the power.
      await saveDelegates(cniDir, req.containerId, startedUpTo(delegates, i + 1), i === 0);
      started = i + 1;
      await provideDeviceInfo(d, a, ctx);
      results.push(await ctx.runner.add(d.net, a));
      deviceInfos.push(await publishedDeviceInfo(a, ctx));
    } catch (err) {
      await rollback(req, startedUpTo(delegates, started), ctx);
      const e = asCniError(err);
      throw new CniError(e.code, `[${podLabel(req, d)}]: error adding container to network "${d.net.name}": ${e.message}`, e.details, { cause: e.cause });
    }
  }
  try {
    // The last step boundary: an answer nobody waits for any more would leave the retry a mess.
    ctx.signal.throwIfAborted();
    if (delegates.some((d) => (d.requests?.defaultRoute ?? []).length > 0)) results = await defaultRoutes(req, delegates, results, ctx);
  } catch (err) {
    await rollback(req, startedUpTo(delegates, started), ctx);
    throw err;
  }
  const masterIndex = Math.max(0, delegates.findIndex((d) => d.master));
  const outcome: OperationOutcome = { result: results[masterIndex] as CniResult, networks: delegates.map((d) => d.name) };
  const kube = ctx.kube;
  if (pod !== undefined && kube !== undefined) outcome.after = () => publishPodNetworks(pod, delegates, results, deviceInfos, req.ifname, kube, ctx.log, ctx.retryLater);
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

/** Undo a failed ADD; what cannot be undone stays in the delegate cache for the runtime's DEL. */
async function rollback(req: CniRequest, cached: CachedDelegates, ctx: OperationContext): Promise<void> {
  const { pending, abandoned } = await undoDelegates(req, cached, 'rollback', ctx);
  if (pending.length > 0) ctx.log.error({ sandbox: req.containerId, err: combine(pending) }, 'rollback after a failed ADD was incomplete; the delegate cache keeps what is left for the DEL that follows');
  else if (abandoned.length > 0) ctx.log.error({ sandbox: req.containerId, err: combine(abandoned) }, 'rollback after a failed ADD gave up on some networks');
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
  const lookup = loadDelegates(cniDir, req.containerId);
  let cached: CachedDelegates;
  if (lookup.kind === 'missing') {
    ctx.log.debug({ sandbox: req.containerId }, 'DEL: no delegate cache, nothing to delete');
    return { networks: [] };
  } else if (lookup.kind === 'corrupt') {
    ctx.log.warn({ sandbox: req.containerId, reason: lookup.reason }, 'DEL: delegate cache unreadable, deleting the configured cluster network instead');
    const delegates = await planDelegates({ conf: req.conf, pod: undefined, kube: undefined });
    cached = startedUpTo(delegates, delegates.length);
  } else {
    cached = lookup;
  }
  const { pending } = await undoDelegates(req, cached, 'del', ctx);
  if (pending.length > 0) throw combine(pending);
  return { networks: cached.entries.filter((e) => e.started).map((e) => e.delegate.name) };
}

/** CHECK every cached delegate against its cached result. */
export async function checkPod(req: CniRequest, ctx: OperationContext): Promise<OperationOutcome> {
  const lookup = loadDelegates(req.conf.cniDir, req.containerId);
  if (lookup.kind !== 'found') {
    throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `CHECK: container ${req.containerId} has no usable delegate cache (${lookup.kind === 'corrupt' ? lookup.reason : 'never added'})`);
  }
  for (const [i, { delegate }] of lookup.entries.entries()) {
    await ctx.runner.check(delegate.net, attachmentOf(req, delegate, i, ctx.deviceInfoDir));
  }
  return { networks: lookup.entries.map((e) => e.delegate.name) };
}
