/**
 * The REST verbs on one resource, independent of HTTP: they take decoded requests and return
 * the status code and body the real apiserver would, or throw ApiError. The in-process
 * helpers of FakeApiServer call the same code, so they behave exactly like API writes.
 */
import { randomUUID } from 'node:crypto';
import { clone, deepEqual, isObject, type JsonObject } from './json.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.js';
import type { CreateOrigin } from './pod-strategy.js';
import { toExternal, type ResourceDef } from './resources.js';
import { FieldSelector, LabelSelector, SelectorError } from './selectors.js';
import { alreadyExists, ApiError, badRequest, conflict, invalid, notFound, successStatus, unsupportedMediaType } from './status.js';
import type { KubeObject, ObjectMeta, ObjectStore } from './store.js';

/** What a handler answers: HTTP status and JSON body. */
export interface RestResponse {
  status: number;
  body: unknown;
}

/** A predicate built from `fieldSelector` and `labelSelector`. */
export type ObjectFilter = (obj: KubeObject) => boolean;

/** The patch media types, by what each resource kind accepts. */
export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** RFC 3339 to the second, as metav1.Time serializes. */
function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The media type without parameters, lower-cased. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Decode a JSON request body (400 like the real decoder when it is not JSON). */
export function decodeBody(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

/** Build the filter for a list or watch; unknown fields and bad syntax are 400. */
export function compileFilter(def: ResourceDef, fieldSelector: string | undefined, labelSelector: string | undefined): ObjectFilter {
  try {
    const supported = Object.keys(def.fields);
    const fields = FieldSelector.parse(fieldSelector ?? '', supported, (f) =>
      def.custom ? `"${f}" is not a known field selector: only ${supported.map((s) => `"${s}"`).join(', ')}` : `field label not supported: ${f}`,
    );
    const labels = LabelSelector.parse(labelSelector ?? '');
    return (obj) => labels.matches(obj.metadata.labels) && fields.matches((name) => def.fields[name]?.(obj) ?? '');
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

function stringMap(meta: JsonObject, key: 'labels' | 'annotations'): void {
  const value = meta[key];
  if (value === undefined || value === null) {
    delete meta[key];
    return;
  }
  if (!isObject(value)) throw badRequest(`json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go struct field ObjectMeta.metadata.${key} of type map[string]string`);
  for (const v of Object.values(value)) {
    if (typeof v !== 'string') throw badRequest(`json: cannot unmarshal ${v === null ? 'null' : typeof v} into Go struct field ObjectMeta.metadata.${key} of type string`);
  }
  // An empty map is omitted on the wire (omitempty), so it is not stored either.
  if (Object.keys(value).length === 0) delete meta[key];
}

function checkTypeMeta(def: ResourceDef, obj: JsonObject): void {
  if (typeof obj.apiVersion === 'string' && obj.apiVersion !== '' && obj.apiVersion !== def.apiVersion) {
    throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${def.apiVersion})`);
  }
  if (typeof obj.kind === 'string' && obj.kind !== '' && obj.kind !== def.kind) {
    throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${def.kind})`);
  }
}

/** `{kind, apiVersion, metadata, ...rest}`, the key order the apiserver writes. */
function assemble(kind: string, apiVersion: string, metadata: ObjectMeta, rest: JsonObject): KubeObject {
  const { kind: _k, apiVersion: _a, metadata: _m, ...body } = rest;
  return { kind, apiVersion, metadata, ...body };
}

/** REST verbs over the store. */
export class ResourceHandlers {
  private readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  private existing(def: ResourceDef, namespace: string, name: string): KubeObject {
    const obj = this.store.get(def.storage, namespace, name);
    if (obj === undefined) throw notFound(def, name);
    return obj;
  }

  /** GET collection: a List of the matching objects and the current resourceVersion. */
  list(def: ResourceDef, namespace: string | undefined, filter: ObjectFilter): RestResponse {
    const items = this.store
      .list(def.storage, namespace)
      .filter(filter)
      .map((o) => toExternal(def, o));
    return { status: 200, body: { kind: def.listKind, apiVersion: def.apiVersion, metadata: { resourceVersion: String(this.store.resourceVersion) }, items } };
  }

  /** GET one object (also pods/status, which answers the whole pod). */
  get(def: ResourceDef, namespace: string, name: string): RestResponse {
    return { status: 200, body: toExternal(def, this.existing(def, namespace, name)) };
  }

  /**
   * POST: validate, assign name (generateName), uid, creationTimestamp and resourceVersion,
   * store. From the in-process helpers (`origin` 'helper') a given uid and status are kept
   * and a resourceVersion is ignored rather than refused.
   */
  create(def: ResourceDef, namespace: string, body: unknown, origin: CreateOrigin): KubeObject {
    if (!isObject(body)) throw badRequest('Object \'Kind\' is missing in request body: not a JSON object');
    checkTypeMeta(def, body);
    const input = def.toStorage === undefined ? clone(body) : def.toStorage(clone(body));
    const meta: JsonObject = isObject(input.metadata) ? input.metadata : {};
    // The real server drops a namespace sent for a cluster-scoped object.
    if (!def.namespaced) delete meta.namespace;
    stringMap(meta, 'labels');
    stringMap(meta, 'annotations');
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '' && typeof meta.generateName === 'string' && meta.generateName !== '') {
      name = meta.generateName + Array.from({ length: 5 }, () => NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)]).join('');
    }
    if (name === '') {
      throw invalid(def.group, def.kind, '', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
    }
    if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      throw invalid(def.group, def.kind, name, [
        {
          reason: 'FieldValueInvalid',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
          field: 'metadata.name',
        },
      ]);
    }
    const rv = meta.resourceVersion;
    if (origin === 'api' && typeof rv === 'string' && rv !== '') throw new ApiError(500, 'resourceVersion should not be set on objects to be created');
    if (this.store.get(def.storage, namespace, name) !== undefined) throw alreadyExists(def, name);
    const givenUid = origin === 'helper' && typeof meta.uid === 'string' && meta.uid !== '' ? meta.uid : undefined;
    const { resourceVersion: _rv, deletionTimestamp: _dt, deletionGracePeriodSeconds: _dg, ...keep } = meta;
    const metadata: ObjectMeta = { ...keep, name, namespace, uid: givenUid ?? randomUUID(), resourceVersion: '', creationTimestamp: now() };
    const apiVersion = def.toStorage === undefined ? def.apiVersion : String(input.apiVersion);
    const obj = assemble(def.kind, apiVersion, metadata, input);
    def.strategy.prepareForCreate(obj, origin);
    return this.store.create(def.storage, obj);
  }

  /** POST over HTTP: 201 with the created object. */
  createResponse(def: ResourceDef, namespace: string, body: unknown): RestResponse {
    return { status: 201, body: toExternal(def, this.create(def, namespace, body, 'api')) };
  }

  /** PUT (main resource or a subresource). */
  update(def: ResourceDef, namespace: string, name: string, subresource: string | undefined, body: unknown): RestResponse {
    if (!isObject(body)) throw badRequest('Object \'Kind\' is missing in request body: not a JSON object');
    checkTypeMeta(def, body);
    const meta = isObject(body.metadata) ? body.metadata : {};
    const bodyName = typeof meta.name === 'string' ? meta.name : '';
    if (bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const old = this.existing(def, namespace, name);
    const candidate = def.toStorage === undefined ? clone(body) : def.toStorage(clone(body));
    return this.applyUpdate(def, old, candidate, subresource);
  }

  /** PATCH by Content-Type; strategic merge patch is refused on custom resources like on the real server. */
  patch(def: ResourceDef, namespace: string, name: string, subresource: string | undefined, contentType: string | undefined, raw: string): RestResponse {
    const type = mediaType(contentType);
    const accepted: string[] = def.custom ? [PATCH_TYPES.json, PATCH_TYPES.merge] : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic];
    if (!accepted.includes(type)) throw unsupportedMediaType(accepted);
    const old = this.existing(def, namespace, name);
    const doc = decodeBody(raw);
    const current = toExternal(def, old);
    let patched: unknown;
    try {
      if (type === PATCH_TYPES.json) patched = applyJsonPatch(current, doc);
      else if (!isObject(doc)) throw new PatchError(400, `json: cannot unmarshal ${Array.isArray(doc) ? 'array' : typeof doc} into Go value of type map[string]interface {}`);
      else patched = type === PATCH_TYPES.merge ? applyMergePatch(current, doc) : applyStrategicMergePatch(current, doc);
    } catch (e) {
      if (e instanceof PatchError) throw e.code === 400 ? badRequest(e.message) : new ApiError(422, e.message, 'Invalid');
      throw e;
    }
    if (!isObject(patched)) throw new ApiError(422, 'the patched object is not a JSON object', 'Invalid');
    checkTypeMeta(def, patched);
    const meta = isObject(patched.metadata) ? patched.metadata : {};
    for (const field of ['name', 'namespace'] as const) {
      // Cluster-scoped objects are served without a namespace and stored under ''.
      if ((meta[field] ?? '') !== old.metadata[field]) {
        throw invalid(def.group, def.kind, name, [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(meta[field] ?? '')}: field is immutable`, field: `metadata.${field}` }]);
      }
    }
    const candidate = def.toStorage === undefined ? patched : def.toStorage(patched);
    return this.applyUpdate(def, old, candidate, subresource);
  }

  /**
   * The common tail of PUT and PATCH: preconditions (resourceVersion → 409 Conflict, uid), the
   * resource's write rules, validation, and no write at all when nothing changed (so no
   * resourceVersion bump and no MODIFIED event, as with etcd).
   */
  private applyUpdate(def: ResourceDef, old: KubeObject, candidate: JsonObject, subresource: string | undefined): RestResponse {
    const meta: JsonObject = isObject(candidate.metadata) ? clone(candidate.metadata) : {};
    const name = old.metadata.name;
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '' && meta.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(def, name);
    }
    if (typeof meta.uid === 'string' && meta.uid !== '' && meta.uid !== old.metadata.uid) {
      throw conflict(def, name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    stringMap(meta, 'labels');
    stringMap(meta, 'annotations');
    const metadata: ObjectMeta = {
      ...meta,
      name,
      namespace: old.metadata.namespace,
      uid: old.metadata.uid,
      resourceVersion: old.metadata.resourceVersion,
      creationTimestamp: old.metadata.creationTimestamp,
    };
    const next = def.strategy.prepareForUpdate(old, assemble(old.kind, old.apiVersion, metadata, candidate), subresource);
    const causes = def.strategy.validateUpdate(old, next, subresource);
    if (causes.length > 0) throw invalid(def.group, def.kind, name, causes);
    if (deepEqual(next, old)) return { status: 200, body: toExternal(def, old) };
    return { status: 200, body: toExternal(def, this.store.update(def.storage, next)) };
  }

  /** DELETE: immediate removal; DeleteOptions preconditions are honoured. */
  delete(def: ResourceDef, namespace: string, name: string, raw: string): RestResponse {
    const old = this.existing(def, namespace, name);
    const options = raw.trim() === '' ? {} : decodeBody(raw);
    const pre = isObject(options) && isObject(options.preconditions) ? options.preconditions : {};
    if (typeof pre.uid === 'string' && pre.uid !== old.metadata.uid) {
      throw conflict(def, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(def, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    const deleted = this.store.delete(def.storage, namespace, name);
    if (deleted === undefined) throw notFound(def, name);
    return { status: 200, body: def.returnDeletedObject ? toExternal(def, deleted) : successStatus(def, name, deleted.metadata.uid) };
  }

  /** DELETE on a namespaced collection: every matching object, answered as a List of them. */
  deleteCollection(def: ResourceDef, namespace: string, filter: ObjectFilter): RestResponse {
    const items: KubeObject[] = [];
    for (const obj of this.store.list(def.storage, namespace).filter(filter)) {
      const deleted = this.store.delete(def.storage, namespace, obj.metadata.name);
      if (deleted !== undefined) items.push(toExternal(def, deleted));
    }
    return { status: 200, body: { kind: def.listKind, apiVersion: def.apiVersion, metadata: { resourceVersion: String(this.store.resourceVersion) }, items } };
  }
}
