import { loadDelegates } from '../cni/delegate-cache.js';
import { listAllCachedAttachments, type StoredAttachment } from '../cni/result-cache.js';
import type { PodInfo } from '../k8s/protocol.js';
import { NETWORK_STATUS_ANNOTATION } from '../k8s/network-status.js';
import type { Finding } from './rules.js';

/**
 * What a pod has attached on this node now, beside its plan: the sandboxes the caches remember
 * for it (libcni's result cache names the pod in each entry's CNI_ARGS; the delegate cache,
 * keyed by sandbox, says which networks were started and which DELs are still owed), the
 * network-status annotation as the pod carries it, and where they drift from the plan.
 */

/** One network of a sandbox, as the caches have it. */
export interface AttachedNetwork {
  /** The delegate's name (`<ns>/<nad>`, or the cluster network's), as in the plan. */
  network: string;
  /** Its interface in the pod, from the result cache (absent when no result was cached). */
  ifname?: string;
  /** Its ADD started and no DEL has undone it. */
  started: boolean;
  /** DELs of it that failed so far (the runtime's next DEL retries it), and the last error. */
  deleteAttempts: number;
  deleteError?: string;
  /** Addresses of the cached result. */
  ips: string[];
}

export interface AttachedSandbox {
  containerId: string;
  netns: string;
  networks: AttachedNetwork[];
}

export interface AttachedNow {
  sandboxes: AttachedSandbox[];
  /** The pod's network-status annotation, parsed; null when it has none (or it is not JSON). */
  networkStatus: unknown[] | null;
  drift: Finding[];
}

/** The result-cache entries of the pod's sandboxes (a uid '' matches any uid, as for a manifest). */
function podEntries(entries: readonly StoredAttachment[], pod: PodInfo): StoredAttachment[] {
  return entries.filter((e) => {
    const args = new Map(e.cniArgs);
    const uid = args.get('K8S_POD_UID');
    return args.get('K8S_POD_NAMESPACE') === pod.namespace && args.get('K8S_POD_NAME') === pod.name && (pod.uid === '' || uid === undefined || uid === pod.uid);
  });
}

function addressesOf(entry: StoredAttachment | undefined): string[] {
  return (entry?.result?.ips ?? []).map((ip) => ip.address);
}

function parseStatus(pod: PodInfo): unknown[] | null {
  const text = pod.annotations[NETWORK_STATUS_ANNOTATION];
  if (text === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** One sandbox from its delegate cache and result entries, and its drift from the plan. */
function sandboxOf(cniDir: string, containerId: string, results: readonly StoredAttachment[], planned: ReadonlySet<string> | undefined): { sandbox: AttachedSandbox; drift: Finding[] } {
  const short = containerId.slice(0, 12);
  const drift: Finding[] = [];
  const cached = loadDelegates(cniDir, containerId);
  const entries = cached.kind === 'found' ? cached.entries : [];
  const networks = entries.map((e): AttachedNetwork => {
    const result = results.find((r) => r.networkName === e.delegate.net.name);
    const n: AttachedNetwork = { network: e.delegate.name, started: e.started, deleteAttempts: e.deleteAttempts, ips: addressesOf(result) };
    if (result !== undefined) n.ifname = result.ifName;
    if (e.deleteError !== undefined) n.deleteError = e.deleteError;
    if (e.started && planned !== undefined && !planned.has(e.delegate.name)) drift.push({ rule: 'attached-not-planned', code: 0, message: `sandbox ${short} has network "${e.delegate.name}" attached, but the plan no longer has it`, fix: 'the pod\'s annotation or the config changed after it started: re-create the pod to get the plan' });
    if (e.deleteAttempts > 0) drift.push({ rule: 'delete-pending', code: 0, message: `sandbox ${short}: the DEL of network "${e.delegate.name}" failed ${e.deleteAttempts} time(s): ${e.deleteError ?? ''}`, fix: 'the runtime\'s next DEL retries it; see the daemon log for the plugin\'s error' });
    return n;
  });
  for (const r of results) {
    if (entries.some((e) => e.started && e.delegate.net.name === r.networkName)) continue;
    const ips = addressesOf(r);
    drift.push({ rule: 'result-without-attachment', code: 0, message: `sandbox ${short}: the result cache holds ${ips.length > 0 ? ips.join(', ') : 'a result'} on network "${r.networkName}" (${r.ifName}) with no attachment in the delegate cache`, fix: 'the next CNI GC from the runtime releases it once the sandbox is gone' });
  }
  const started = new Set(entries.filter((e) => e.started).map((e) => e.delegate.name));
  for (const name of planned ?? []) {
    if (entries.length > 0 && !started.has(name)) drift.push({ rule: 'planned-not-attached', code: 0, message: `sandbox ${short} does not have network "${name}" from the plan`, fix: 'the network was added (or fixed) after the pod started: re-create the pod to attach it' });
  }
  return { sandbox: { containerId, netns: results[0]?.netns ?? '', networks }, drift };
}

/**
 * The pod's sandboxes on this node (none when it runs elsewhere, or not yet); `planned`: the
 * networks of its plan, undefined when planning failed (then nothing is compared with it).
 */
export async function attachedNow(cniDir: string, pod: PodInfo, planned: readonly string[] | undefined): Promise<AttachedNow> {
  const entries = podEntries(await listAllCachedAttachments(cniDir), pod);
  const containers = [...new Set(entries.map((e) => e.containerId))];
  const now: AttachedNow = { sandboxes: [], networkStatus: parseStatus(pod), drift: [] };
  const plan = planned === undefined ? undefined : new Set(planned);
  for (const containerId of containers) {
    const { sandbox, drift } = sandboxOf(cniDir, containerId, entries.filter((e) => e.containerId === containerId), plan);
    now.sandboxes.push(sandbox);
    now.drift.push(...drift);
  }
  return now;
}
