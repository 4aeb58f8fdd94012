/**
 * The object store: one global resourceVersion counter (like etcd's revision), a table per
 * stored resource, and a bounded history of change events that watches replay from. A resume
 * from before the retained history is what produces the real server's 410 Expired.
 */
import { deepFreeze } from './json.js';

/** Metadata every stored object carries. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** A stored object (frozen inside the store; copies outside it). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** The change kinds a watch reports. */
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One write, as kept in history and pushed to listeners. `object` carries `rv` as its resourceVersion. */
export interface StoreEvent {
  rv: number;
  type: ChangeType;
  storage: string;
  object: KubeObject;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** In-memory objects with resourceVersions, history and change listeners. */
export class ObjectStore {
  private counter: number;
  private oldest: number;
  private readonly tables = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly historyLimit: number;

  /** `historyLimit` events are kept for watch resumes; the counter starts at `initialRv`. */
  constructor(historyLimit: number, initialRv = 1) {
    this.historyLimit = historyLimit;
    this.counter = initialRv;
    this.oldest = initialRv;
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.counter;
  }

  /** The oldest resourceVersion a watch may resume from; anything older is 410 Expired. */
  get oldestResumable(): number {
    return this.oldest;
  }

  private table(storage: string): Map<string, KubeObject> {
    let t = this.tables.get(storage);
    if (t === undefined) {
      t = new Map();
      this.tables.set(storage, t);
    }
    return t;
  }

  /** One object (frozen), or undefined. */
  get(storage: string, namespace: string, name: string): KubeObject | undefined {
    return this.tables.get(storage)?.get(keyOf(namespace, name));
  }

  /** Objects (frozen) in key order, like etcd's range reads; all namespaces when `namespace` is undefined. */
  list(storage: string, namespace?: string): KubeObject[] {
    const all = [...(this.tables.get(storage)?.values() ?? [])];
    const selected = namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
    return selected.sort((a, b) => (keyOf(a.metadata.namespace, a.metadata.name) < keyOf(b.metadata.namespace, b.metadata.name) ? -1 : 1));
  }

  private write(type: ChangeType, storage: string, object: KubeObject): KubeObject {
    this.counter += 1;
    const stored = deepFreeze({ ...object, metadata: { ...object.metadata, resourceVersion: String(this.counter) } });
    const event: StoreEvent = { rv: this.counter, type, storage, object: stored };
    this.history.push(event);
    if (this.history.length > this.historyLimit * 2) this.trim();
    for (const listener of [...this.listeners]) listener(event);
    return stored;
  }

  private trim(): void {
    const drop = this.history.length - this.historyLimit;
    if (drop <= 0) return;
    const last = this.history[drop - 1];
    if (last !== undefined) this.oldest = last.rv;
    this.history = this.history.slice(drop);
  }

  /** Store a new object (the caller checked it does not exist); returns it with its resourceVersion. */
  create(storage: string, object: KubeObject): KubeObject {
    const t = this.table(storage);
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    if (t.has(key)) throw new Error(`store: ${storage} ${key} exists`);
    const stored = this.write('ADDED', storage, object);
    t.set(key, stored);
    return stored;
  }

  /** Replace an existing object; returns it with its new resourceVersion. */
  update(storage: string, object: KubeObject): KubeObject {
    const t = this.table(storage);
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    if (!t.has(key)) throw new Error(`store: ${storage} ${key} does not exist`);
    const stored = this.write('MODIFIED', storage, object);
    t.set(key, stored);
    return stored;
  }

  /** Remove an object; returns it carrying the deletion's resourceVersion, as a DELETED event does. */
  delete(storage: string, namespace: string, name: string): KubeObject | undefined {
    const t = this.tables.get(storage);
    const key = keyOf(namespace, name);
    const existing = t?.get(key);
    if (t === undefined || existing === undefined) return undefined;
    t.delete(key);
    return this.write('DELETED', storage, existing);
  }

  /** Events after `rv`, oldest first; undefined when history no longer reaches back that far. */
  since(rv: number): StoreEvent[] | undefined {
    this.trim();
    if (rv < this.oldest) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }

  /** Call `listener` synchronously on every write; returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Forget all history: from now on only the current resourceVersion can be resumed from. */
  expire(): void {
    this.history = [];
    this.oldest = this.counter;
  }
}
