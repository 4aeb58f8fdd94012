/**
 * The resources the fake serves and how each behaves: kinds, the fields it can be
 * field-selected on, whether it is a custom resource (no strategic merge patch, DELETE answers
 * a Status) and its write rules. Adding a resource here is all the router and handlers need.
 */
import { csrStrategy } from './csr-strategy.js';
import { eventFromCore, eventToCore } from './event-conversion.js';
import type { JsonObject } from './json.js';
import { isObject } from './json.js';
import { plainStrategy, podStrategy, type WriteStrategy } from './pod-strategy.js';
import type { GroupResource } from './status.js';
import type { KubeObject } from './store.js';

/** How one group/version/resource is served. */
export interface ResourceDef extends GroupResource {
  version: string;
  kind: string;
  listKind: string;
  /** `v1` or `group/version`. */
  apiVersion: string;
  /** Store table; two APIs serving the same data share it (core and events.k8s.io Events). */
  storage: string;
  /** Served like a CRD: strategic merge patch is 415, field selectors are name/namespace only. */
  custom: boolean;
  /** Objects live in namespaces; false: cluster-scoped (`/apis/{group}/{version}/{resource}/{name}`, no namespace in metadata). */
  namespaced: boolean;
  /** DELETE answers with the deleted object rather than a Success Status. */
  returnDeletedObject: boolean;
  subresources: readonly string[];
  /** Field selector name → value of the (stored) object. */
  fields: Readonly<Record<string, (obj: KubeObject) => string>>;
  strategy: WriteStrategy;
  /** Body (as this API serves it) → stored shape. */
  toStorage?: (obj: JsonObject) => JsonObject;
  /** Stored object → as this API serves it. */
  fromStorage?: (obj: JsonObject) => JsonObject;
}

/** The value at a dotted path as a field selector sees it: '' when unset, booleans as "true"/"false". */
function field(path: string): (obj: KubeObject) => string {
  const steps = path.split('.');
  return (obj) => {
    let current: unknown = obj;
    for (const step of steps) current = isObject(current) ? current[step] : undefined;
    if (typeof current === 'string') return current;
    if (typeof current === 'number' || typeof current === 'boolean') return String(current);
    return '';
  };
}

function fields(...paths: string[]): Record<string, (obj: KubeObject) => string> {
  return Object.fromEntries(paths.map((p) => [p, field(p)]));
}

const META_FIELDS = ['metadata.name', 'metadata.namespace'];

const EVENT_FIELDS = {
  ...fields(
    ...META_FIELDS,
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'type',
  ),
  source: field('source.component'),
};

const POD_FIELDS = {
  ...fields(
    ...META_FIELDS,
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ),
  'spec.hostNetwork': (obj: KubeObject) => (field('spec.hostNetwork')(obj) === 'true' ? 'true' : 'false'),
};

/** core/v1 Events; events.k8s.io/v1 Events are the same objects, converted on the way in and out. */
const CORE_EVENTS: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'events',
  kind: 'Event',
  listKind: 'EventList',
  apiVersion: 'v1',
  storage: 'events',
  custom: false,
  namespaced: true,
  returnDeletedObject: false,
  subresources: [],
  fields: EVENT_FIELDS,
  strategy: plainStrategy,
};

/** A resource.k8s.io/v1 (DRA) resource served with plain write rules. */
function draResource(resource: string, kind: string, namespaced: boolean, extraFields: string[]): ResourceDef {
  return {
    group: 'resource.k8s.io',
    version: 'v1',
    resource,
    kind,
    listKind: `${kind}List`,
    apiVersion: 'resource.k8s.io/v1',
    storage: `${resource}.resource.k8s.io`,
    custom: false,
    namespaced,
    returnDeletedObject: false,
    subresources: [],
    fields: fields(...META_FIELDS, ...extraFields),
    strategy: plainStrategy,
  };
}

/** Every resource the fake serves. */
export const RESOURCES: readonly ResourceDef[] = [
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    listKind: 'PodList',
    apiVersion: 'v1',
    storage: 'pods',
    custom: false,
    namespaced: true,
    returnDeletedObject: true,
    subresources: ['status'],
    fields: POD_FIELDS,
    strategy: podStrategy,
  },
  {
    group: 'k8s.cni.cncf.io',
    version: 'v1',
    resource: 'network-attachment-definitions',
    kind: 'NetworkAttachmentDefinition',
    listKind: 'NetworkAttachmentDefinitionList',
    apiVersion: 'k8s.cni.cncf.io/v1',
    storage: 'network-attachment-definitions.k8s.cni.cncf.io',
    custom: true,
    namespaced: true,
    returnDeletedObject: false,
    subresources: [],
    fields: fields(...META_FIELDS),
    strategy: plainStrategy,
  },
  CORE_EVENTS,
  {
    ...CORE_EVENTS,
    group: 'events.k8s.io',
    apiVersion: 'events.k8s.io/v1',
    toStorage: eventToCore,
    fromStorage: eventFromCore,
  },
  draResource('resourceclaims', 'ResourceClaim', true, []),
  draResource('resourceslices', 'ResourceSlice', false, ['spec.driver', 'spec.nodeName', 'spec.pool.name']),
  {
    group: 'certificates.k8s.io',
    version: 'v1',
    resource: 'certificatesigningrequests',
    kind: 'CertificateSigningRequest',
    listKind: 'CertificateSigningRequestList',
    apiVersion: 'certificates.k8s.io/v1',
    storage: 'certificatesigningrequests.certificates.k8s.io',
    custom: false,
    namespaced: false,
    returnDeletedObject: false,
    subresources: ['status', 'approval'],
    fields: fields('metadata.name', 'spec.signerName'),
    strategy: csrStrategy,
  },
];

/** The definition serving `group/version/resource`, if any. */
export function findResource(group: string, version: string, resource: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** The definition that owns a store table in its own shape (for in-process helpers). */
export function resourceFor(group: string, resource: string): ResourceDef {
  const def = RESOURCES.find((r) => r.group === group && r.resource === resource);
  if (def === undefined) throw new Error(`no resource ${resource}.${group}`);
  return def;
}

/** A stored object as `def` serves it (cluster-scoped objects are stored under namespace '' and served without one). */
export function toExternal(def: ResourceDef, obj: KubeObject): KubeObject {
  const served = def.fromStorage === undefined ? obj : (def.fromStorage(obj) as KubeObject);
  if (def.namespaced) return served;
  const { namespace: _none, ...metadata } = served.metadata;
  return { ...served, metadata: metadata as KubeObject['metadata'] };
}
