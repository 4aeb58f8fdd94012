import type { V1Pod } from '@kubernetes/client-node';
import type { PodInfo } from './protocol.js';

/**
 * A pod reduced to what planning needs. Type-only use of client-node: a pod as plain JSON (an
 * explain request's body, a manifest) has the same shape, so the daemon's main thread reads it
 * without loading the client.
 */

/** A claim named in the spec, or the one generated from a template (named in the status). */
function resourceClaims(pod: V1Pod): string[] {
  const generated = new Map((pod.status?.resourceClaimStatuses ?? []).map((s) => [s.name, s.resourceClaimName]));
  return (pod.spec?.resourceClaims ?? []).flatMap((c) => {
    const name = c.resourceClaimName ?? generated.get(c.name);
    return name === undefined || name === '' ? [] : [name];
  });
}

export function podInfo(pod: V1Pod): PodInfo {
  const m = pod.metadata ?? {};
  return { namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', annotations: { ...(m.annotations ?? {}) }, resourceClaims: resourceClaims(pod) };
}
