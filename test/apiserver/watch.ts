/**
 * One open watch: HTTP 200 with chunked, newline-delimited JSON events, replaying history
 * after the requested resourceVersion (or ADDED for the current state), then live events,
 * periodic BOOKMARKs, an ERROR 410 when the resourceVersion is older than history, and an
 * end after `timeoutSeconds`. This framing is what client-node's Watch parses line by line.
 */
import type { ServerResponse } from 'node:http';
import type { ObjectFilter } from './handlers.js';
import { toExternal, type ResourceDef } from './resources.js';
import { badRequest, failureStatus } from './status.js';
import type { KubeObject, ObjectStore, StoreEvent } from './store.js';

/** What a watch request asked for. */
export interface WatchParams {
  def: ResourceDef;
  namespace: string | undefined;
  filter: ObjectFilter;
  allowBookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutSeconds: number | undefined;
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Parse the watch `resourceVersion`: undefined for "start from the current state". 400 when not a number. */
export function parseWatchResourceVersion(rv: string | undefined): number | undefined {
  if (rv === undefined || rv === '' || rv === '0') return undefined;
  if (!/^[0-9]+$/.test(rv)) throw badRequest(`resourceVersion: Invalid value: "${rv}": strconv.ParseUint: parsing "${rv}": invalid syntax`);
  return Number(rv);
}

/** A streaming watch response; ends by itself on timeout, client disconnect or end()/destroy(). */
export class WatchStream {
  private readonly res: ServerResponse;
  private readonly params: WatchParams;
  private readonly store: ObjectStore;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private finished = false;
  private onFinish: () => void = () => undefined;

  /** A stream over `res`; nothing is written until open(). */
  constructor(store: ObjectStore, res: ServerResponse, params: WatchParams) {
    this.store = store;
    this.res = res;
    this.params = params;
  }

  /** Called once when the stream is over, however it ended. */
  whenFinished(callback: () => void): void {
    this.onFinish = callback;
  }

  /** Write headers, replay, subscribe. `from` is the parsed resourceVersion. */
  open(from: number | undefined): void {
    const { res, store, params } = this;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    res.on('close', () => this.finish());
    let after: number;
    if (from === undefined) {
      for (const obj of store.list(params.def.storage, params.namespace)) this.offer('ADDED', obj);
      after = store.resourceVersion;
    } else {
      const events = store.since(from);
      if (events === undefined) {
        this.send('ERROR', failureStatus(410, `too old resource version: ${from} (${store.oldestResumable})`, 'Expired'));
        this.end();
        return;
      }
      for (const e of events) this.offerEvent(e);
      // A resourceVersion from the future: events up to it are skipped, as the watch cache does.
      after = Math.max(from, store.resourceVersion);
    }
    this.unsubscribe = store.subscribe((e) => {
      if (e.rv > after) this.offerEvent(e);
    });
    if (params.allowBookmarks) {
      this.timers.push(setInterval(() => this.bookmark(), params.bookmarkIntervalMs));
    }
    if (params.timeoutSeconds !== undefined) {
      this.timers.push(setTimeout(() => this.end(), params.timeoutSeconds * 1000));
    }
  }

  private offerEvent(e: StoreEvent): void {
    if (e.storage === this.params.def.storage) this.offer(e.type, e.object);
  }

  private offer(type: WatchEventType, obj: KubeObject): void {
    if (this.params.namespace !== undefined && obj.metadata.namespace !== this.params.namespace) return;
    if (!this.params.filter(obj)) return;
    this.send(type, toExternal(this.params.def, obj));
  }

  private bookmark(): void {
    const { def } = this.params;
    this.send('BOOKMARK', { kind: def.kind, apiVersion: def.apiVersion, metadata: { resourceVersion: String(this.store.resourceVersion) } });
  }

  private send(type: WatchEventType, object: unknown): void {
    if (this.finished || this.res.destroyed || this.res.writableEnded) return;
    this.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.onFinish();
  }

  /** End the stream cleanly (terminating chunk), as the server does on timeout. */
  end(): void {
    if (!this.res.writableEnded) this.res.end();
    this.finish();
  }

  /** Cut the connection mid-stream, as a crashed apiserver or a broken network does. */
  destroy(): void {
    this.res.socket?.destroy();
    this.res.destroy();
    this.finish();
  }
}
