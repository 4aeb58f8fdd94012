import type { Logger } from 'pino';
import { delegateIfname, type Delegate } from '../cni/delegate.js';
import type { CniResult } from '../cni/result.js';
import type { KubeAccess, PodInfo, StatusPatchOutcome } from '../k8s/protocol.js';
import { formatNetworkStatus, networkStatusesFor } from '../k8s/network-status.js';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';

/** Retries of a status patch that failed for a reason other than "pod not found": after 1, 4, 16 and 60 s. */
const RETRIES = 4;
const RETRY: BackoffOptions = { startMs: 1000, maxMs: 60_000, factor: 4 };

/**
 * After a successful ADD: the network-status annotation (one merge patch of pods/status, no GET
 * first) and one aggregated AddedInterface event, both awaited (the thin plugin exits right after:
 * a request still in flight would be cut off). Writes never fail the ADD: the pod's network is up,
 * so a status write that fails (API server away) is retried later, bounded, in the pod's mailbox,
 * and not at all once a later ADD or DEL of the pod came (`retryLater`, the daemon's; the thin
 * plugin exits, has none, and logs the failure).
 */
export async function publishPodNetworks(
  pod: PodInfo,
  delegates: readonly Delegate[],
  results: readonly CniResult[],
  deviceInfos: ReadonlyArray<Record<string, unknown> | undefined>,
  runtimeIfname: string,
  kube: KubeAccess,
  log: Logger,
  retryLater: ((delayMs: number, job: () => Promise<void>) => void) | undefined,
): Promise<void> {
  // The auxiliary chain creates no interface: no status entry, no event line (as upstream).
  const attached = delegates.map((d, i) => ({ d, i, result: results[i] as CniResult, deviceInfo: deviceInfos[i] })).filter(({ d }) => d.auxiliary !== true);
  const entries = attached.flatMap(({ d, i, result, deviceInfo }) =>
    networkStatusesFor(result, d.name, d.master, { ifname: delegateIfname(d, i, runtimeIfname), ...(deviceInfo === undefined ? {} : { deviceInfo }) }),
  );
  const value = formatNetworkStatus(entries);
  const added = attached.map(({ d, i, result }) => `${delegateIfname(d, i, runtimeIfname)} [${(result.ips ?? []).map((ip) => ip.address).join(',')}] from ${d.name}`);
  // One call for both writes (the kube worker's round trip); a failed event is logged there.
  const outcome = await kube.publishNetworkStatus(pod, value, { pod, type: 'Normal', reason: 'AddedInterface', message: `Add ${added.join('; ')}` });
  retryFailedPatch(outcome, pod, value, kube, log, retryLater, 0);
}

/** The patch again, for up to RETRIES retries with backoff, each a job in the pod's mailbox (`retryLater`). */
async function patchWithRetry(pod: PodInfo, value: string, kube: KubeAccess, log: Logger, retryLater: ((delayMs: number, job: () => Promise<void>) => void) | undefined, attempt: number): Promise<void> {
  retryFailedPatch(await kube.patchNetworkStatus(pod, value), pod, value, kube, log, retryLater, attempt);
}

/** After attempt number `attempt` (0: the first) ended with `outcome`: log it, and retry later when that may help. */
function retryFailedPatch(outcome: StatusPatchOutcome, pod: PodInfo, value: string, kube: KubeAccess, log: Logger, retryLater: ((delayMs: number, job: () => Promise<void>) => void) | undefined, attempt: number): void {
  if (outcome.ok) return;
  const fields = { pod: `${pod.namespace}/${pod.name}`, podUid: pod.uid, attempt: attempt + 1, reason: outcome.message };
  if (outcome.gone) {
    log.warn(fields, 'network-status not written: the pod is gone or was re-created');
    return;
  }
  if (retryLater === undefined || attempt >= RETRIES) {
    log.error(fields, 'network-status not written; giving up');
    return;
  }
  const delay = backoffDelay(attempt, RETRY);
  log.warn({ ...fields, retryInMs: delay }, 'network-status not written; retrying later unless the pod gets a new sandbox first');
  retryLater(delay, () => patchWithRetry(pod, value, kube, log, retryLater, attempt + 1));
}
