/**
 * The Kubernetes objects Multus reads and writes, as plain JSON, and the API's error text:
 * shared by the kube worker (through client-node) and the thin plugin's own small client
 * (rest-kube.ts), which must not load client-node. No imports of client-node here.
 */
import type { ApiWrite } from './api-request.js';
import type { KubeAccess, NadInfo, NadLookup, PodEvent, PodInfo, PodLookup, StatusPatchOutcome } from './protocol.js';

export const NAD_GROUP = 'k8s.cni.cncf.io';
export const NAD_PLURAL = 'network-attachment-definitions';
/** Pods not from the API server (static pods) carry another config source; their uids differ by design. */
const CONFIG_SOURCE_ANNOTATION = 'kubernetes.io/config.source';

/** The parts of a Pod that Multus reads. */
export interface PodObject {
  metadata?: { namespace?: string; name?: string; uid?: string; annotations?: Record<string, string> };
  spec?: { resourceClaims?: Array<{ name: string; resourceClaimName?: string }> };
  status?: { resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }> };
}

/** A NetworkAttachmentDefinition as the API returns it. */
export interface NadObject {
  metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> };
  spec?: { config?: string };
}

/** A claim named in the spec, or the one generated from a template (named in the status). */
function resourceClaims(pod: PodObject): string[] {
  const generated = new Map((pod.status?.resourceClaimStatuses ?? []).map((s) => [s.name, s.resourceClaimName]));
  return (pod.spec?.resourceClaims ?? []).flatMap((c) => {
    const name = c.resourceClaimName ?? generated.get(c.name);
    return name === undefined || name === '' ? [] : [name];
  });
}

export function podInfo(pod: PodObject): PodInfo {
  const m = pod.metadata ?? {};
  return { namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', annotations: { ...(m.annotations ?? {}) }, resourceClaims: resourceClaims(pod) };
}

export function nadInfo(nad: NadObject): NadInfo {
  const m = nad.metadata ?? {};
  return { namespace: m.namespace ?? '', name: m.name ?? '', config: nad.spec?.config ?? '', annotations: { ...(m.annotations ?? {}) } };
}

/** A static pod (from a manifest file, not the API server): its mirror pod's uid differs by design. */
export function isStatic(pod: PodInfo): boolean {
  const source = pod.annotations[CONFIG_SOURCE_ANNOTATION];
  return source !== undefined && source !== 'api';
}

/** The merge patch of pods/status: metadata.uid in it is a precondition (a re-created pod of the same name answers 409). */
function networkStatusPatch(pod: PodInfo, value: string): { metadata: { uid: string; annotations: Record<string, string> } } {
  return { metadata: { uid: pod.uid, annotations: { 'k8s.v1.cni.cncf.io/network-status': value } } };
}

/** Events named by this process so far: with the time, names stay unique within a millisecond. */
let eventsNamed = 0;

/**
 * client-go's event name: the object's name and the time in nanoseconds, in hex (no crypto: the
 * thin plugin would load it for this alone, about 10 ms).
 */
function eventName(podName: string, now: Date): string {
  const ns = BigInt(now.getTime()) * 1_000_000n + BigInt(eventsNamed++ % 1_000_000);
  return `${podName}.${ns.toString(16)}`;
}

/** A core/v1 Event about a pod, reported by multus on `nodeName`. */
function podEventBody(event: PodEvent, nodeName: string, now = new Date()) {
  return {
    metadata: { name: eventName(event.pod.name, now), namespace: event.pod.namespace },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: event.pod.namespace, name: event.pod.name, uid: event.pod.uid },
    type: event.type,
    reason: event.reason,
    message: event.message,
    source: { component: 'multus', host: nodeName },
    reportingComponent: 'multus',
    reportingInstance: nodeName,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** The network-status write: a merge patch of the pod's status subresource, guarded by its uid. */
export function networkStatusWrite(pod: PodInfo, value: string): ApiWrite {
  return { method: 'PATCH', path: `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/status`, body: networkStatusPatch(pod, value), contentType: 'application/merge-patch+json' };
}

/** The write that records an event about a pod. */
export function podEventWrite(event: PodEvent, nodeName: string): ApiWrite {
  return { method: 'POST', path: `/api/v1/namespaces/${encodeURIComponent(event.pod.namespace)}/events`, body: podEventBody(event, nodeName) };
}

/** publishNetworkStatus for an implementation of the two writes: both at once, the patch's outcome. */
export async function patchAndRecord(writer: Pick<KubeAccess, 'patchNetworkStatus' | 'recordEvent'>, pod: PodInfo, value: string, event: PodEvent): Promise<StatusPatchOutcome> {
  const [outcome] = await Promise.all([writer.patchNetworkStatus(pod, value), writer.recordEvent(event)]);
  return outcome;
}

/** A readable message for an API error: `{code, body}` (client-node's ApiException, or ours) with a Status JSON body. */
export function errorText(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { code, body, message } = err as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof code === 'number' && typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: string; reason?: string };
        return `HTTP ${code} ${parsed.reason ?? ''}: ${parsed.message ?? ''}`.trim();
      } catch {
        return `HTTP ${code}`;
      }
    }
    if (typeof message === 'string') return message;
  }
  return String(err);
}

/** The HTTP status of an API error, if it has one. */
export function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A live pod read, judged: a 404 is `missing`; a pod of that name with another uid than the
 * runtime's (re-created meanwhile) is `uid-mismatch`, unless it is a static pod.
 */
export async function lookupPod(namespace: string, name: string, uid: string, read: () => Promise<PodObject>): Promise<PodLookup> {
  try {
    const live = podInfo(await read());
    if (uid !== '' && live.uid !== uid && !isStatic(live)) return { kind: 'uid-mismatch', pod: live };
    return { kind: 'found', pod: live };
  } catch (err) {
    if (httpCode(err) === 404) return { kind: 'missing' };
    return { kind: 'error', message: `cannot read pod ${namespace}/${name}: ${errorText(err)}` };
  }
}

/** A live NAD read, judged: a 404 is `missing`. */
export async function lookupNad(namespace: string, name: string, read: () => Promise<NadObject>): Promise<NadLookup> {
  try {
    return { kind: 'found', nad: nadInfo(await read()) };
  } catch (err) {
    if (httpCode(err) === 404) return { kind: 'missing' };
    return { kind: 'error', message: `cannot read network-attachment-definition ${namespace}/${name}: ${errorText(err)}` };
  }
}

/** The status patch, judged: 404 (the pod is gone) and 409 (our uid precondition failed: re-created) are `gone`. */
export async function statusPatchOutcome(patch: () => Promise<unknown>): Promise<StatusPatchOutcome> {
  try {
    await patch();
    return { ok: true };
  } catch (err) {
    const code = httpCode(err);
    return { ok: false, gone: code === 404 || code === 409, message: errorText(err) };
  }
}
