/**
 * The write rules of certificates.k8s.io/v1 CertificateSigningRequests, as the real registry
 * has them: create clears status; the main resource changes metadata only; `approval` changes
 * only the Approved/Denied conditions, `status` everything else in status; a certificate needs
 * an Approved condition and, once issued, never changes. The per-node certificate flow depends
 * on exactly these (a signer writes `status`, an approver `approval`).
 */
import { clone, deepEqual, isObject, type JsonObject } from './json.js';
import type { WriteStrategy } from './pod-strategy.js';
import type { StatusCause } from './status.js';
import type { KubeObject } from './store.js';

const APPROVAL_TYPES = new Set(['Approved', 'Denied']);

function status(obj: KubeObject): JsonObject {
  return isObject(obj.status) ? obj.status : {};
}

function conditions(obj: KubeObject): JsonObject[] {
  const list = status(obj).conditions;
  return Array.isArray(list) ? list.filter(isObject) : [];
}

const isApproval = (c: JsonObject): boolean => APPROVAL_TYPES.has(String(c.type));

export const csrStrategy: WriteStrategy = {
  prepareForCreate(obj) {
    obj.status = {};
  },
  prepareForUpdate(old, next, subresource) {
    const result = clone(old);
    if (subresource === undefined) {
      result.metadata = { ...clone(next.metadata) };
      return result;
    }
    // Each subresource owns its share of the conditions; the other share is kept from `old`.
    const mine = (c: JsonObject): boolean => (subresource === 'approval' ? isApproval(c) : !isApproval(c));
    const merged = [...conditions(old).filter((c) => !mine(c)), ...conditions(next).filter(mine)];
    const base = subresource === 'approval' ? status(old) : status(next);
    result.status = { ...clone(base), ...(merged.length === 0 ? {} : { conditions: merged }) };
    if (merged.length === 0) delete (result.status as JsonObject).conditions;
    return result;
  },
  validateUpdate(old, next) {
    const causes: StatusCause[] = [];
    const types = new Set(conditions(next).map((c) => String(c.type)));
    if (types.has('Approved') && types.has('Denied')) causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: "Denied": Approved and Denied conditions are mutually exclusive', field: 'status.conditions' });
    const issued = status(next).certificate;
    if (issued !== undefined && issued !== '' && !types.has('Approved')) causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: "<certificate data>": certificate can only be set if an Approved condition is present', field: 'status.certificate' });
    const before = status(old).certificate;
    if (before !== undefined && before !== '' && !deepEqual(before, issued)) causes.push({ reason: 'FieldValueForbidden', message: 'Forbidden: updates may not modify existing certificate content', field: 'status.certificate' });
    return causes;
  },
};
