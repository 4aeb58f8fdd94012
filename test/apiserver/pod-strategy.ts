/**
 * The pod-specific write rules of the real registry: create resets status to Pending, the
 * main resource cannot change status, the status subresource cannot change spec, and a pod's
 * spec is immutable apart from a few fields. Multus writes its network-status annotation
 * through pods/status, so these rules decide what the daemon's writes may and may not touch.
 */
import { clone, deepEqual, isObject, type JsonObject } from './json.js';
import type { StatusCause } from './status.js';
import type { KubeObject } from './store.js';

/** Where a create comes from: the API resets status, the in-process helpers keep what they are given. */
export type CreateOrigin = 'api' | 'helper';

/** How a resource's objects are prepared and checked on writes. */
export interface WriteStrategy {
  /** Adjust a new object in place before it is stored. */
  prepareForCreate(obj: KubeObject, origin: CreateOrigin): void;
  /** The object to store when `next` replaces `old` through the main resource or `subresource`. */
  prepareForUpdate(old: KubeObject, next: KubeObject, subresource: string | undefined): KubeObject;
  /** Field errors that make the update a 422. */
  validateUpdate(old: KubeObject, next: KubeObject, subresource: string | undefined): StatusCause[];
}

/** Resources with no special rules: the body is stored as sent. */
export const plainStrategy: WriteStrategy = {
  prepareForCreate: () => undefined,
  prepareForUpdate: (_old, next) => next,
  validateUpdate: () => [],
};

function setOrDelete(target: JsonObject, key: string, value: unknown): void {
  if (value === undefined) delete target[key];
  else target[key] = clone(value);
}

/** The spec with the fields a pod update may change removed. */
function immutablePart(spec: unknown): unknown {
  if (!isObject(spec)) return spec;
  const out = clone(spec);
  delete out.activeDeadlineSeconds;
  delete out.tolerations;
  delete out.schedulingGates;
  delete out.terminationGracePeriodSeconds;
  for (const list of ['containers', 'initContainers']) {
    const containers = out[list];
    if (Array.isArray(containers)) {
      out[list] = containers.map((c: unknown) => {
        if (!isObject(c)) return c;
        const { image: _image, ...rest } = c;
        return rest;
      });
    }
  }
  return out;
}

const SPEC_FORBIDDEN =
  'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** Pods: status on create, spec/status split between the main resource and pods/status. */
export const podStrategy: WriteStrategy = {
  prepareForCreate(obj, origin) {
    if (origin === 'api' || !isObject(obj.status)) obj.status = { phase: 'Pending' };
  },
  prepareForUpdate(old, next, subresource) {
    if (subresource === 'status') {
      const result = clone(old);
      setOrDelete(result.metadata, 'labels', next.metadata.labels);
      setOrDelete(result.metadata, 'annotations', next.metadata.annotations);
      setOrDelete(result, 'status', next.status);
      return result;
    }
    const result = clone(next);
    setOrDelete(result, 'status', old.status);
    return result;
  },
  validateUpdate(old, next, subresource) {
    if (subresource === 'status' || deepEqual(immutablePart(old.spec), immutablePart(next.spec))) return [];
    return [{ reason: 'FieldValueForbidden', message: SPEC_FORBIDDEN, field: 'spec' }];
  },
};
