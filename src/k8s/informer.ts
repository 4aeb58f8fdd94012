import { ListWatch, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';
import { errorText } from './api-objects.js';

/**
 * A ListWatch that keeps itself alive. client-node 1.4.0's ListWatch stops for good on any
 * watch error other than 410 (it only emits 'error'), and a half-open connection can leave it
 * silent forever. So:
 * - on an error (the watch has already ended), resume with `start()`: one single-flight restart
 *   with capped exponential backoff and jitter; a stale resourceVersion gets a 410 and a relist;
 * - when the resourceVersion has not moved for `watchdogMs`, replace the ListWatch with a fresh
 *   one, swapped in once it has listed. The old one is retired, never restarted: stopping a live
 *   watch reports an AbortError later, and ListWatch then aborts whatever request is current.
 */

export interface InformerOptions<T extends KubernetesObject> {
  /** API path, e.g. `/api/v1/pods`. */
  path: string;
  watch: Watch;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  fieldSelector?: string;
  watchdogMs: number;
  onRestart: (reason: string, delayMs: number) => void;
  /** Each watch event (added, updated, deleted), as it comes. */
  onEvent?: () => void;
}

/** Watch restarts: doubled from 1 s up to 30 s, each between half and all of that at random. */
const BACKOFF: BackoffOptions = { startMs: 1000, maxMs: 30_000, jitter: 0.5 };

export class ResilientInformer<T extends KubernetesObject> {
  readonly #opts: InformerOptions<T>;
  #lw: ListWatch<T>;
  readonly #retired = new WeakSet<ListWatch<T>>();
  #stopped = false;
  #connected = false;
  #restarts = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #replacing = false;
  #watchdog: NodeJS.Timeout | undefined;
  #lastVersion = '';
  #lastProgress = Date.now();

  constructor(opts: InformerOptions<T>) {
    this.#opts = opts;
    this.#lw = this.#create();
  }

  #create(): ListWatch<T> {
    const { path, watch, list, fieldSelector } = this.#opts;
    const lw = new ListWatch<T>(path, watch, list, false, undefined, fieldSelector);
    const live = (): boolean => !this.#retired.has(lw) && !this.#stopped;
    const progress = (): void => {
      this.#opts.onEvent?.();
      if (!live()) return;
      this.#failures = 0;
      this.#lastProgress = Date.now();
    };
    lw.on('connect', () => {
      if (live()) this.#connected = true;
    });
    lw.on('add', progress);
    lw.on('update', progress);
    lw.on('delete', progress);
    lw.on('error', (err) => {
      if (live() && lw === this.#lw) this.#scheduleRestart(`watch error: ${errorText(err)}`);
    });
    return lw;
  }

  /** List and start watching; resolves once the first list is done (or failed: a restart is then scheduled). */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#watchdog = setInterval(() => this.#checkProgress(), Math.max(250, Math.floor(this.#opts.watchdogMs / 4)));
    this.#watchdog.unref();
    await this.#lw.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#watchdog);
    await this.#lw.stop();
  }

  get(name: string, namespace: string): T | undefined {
    return this.#lw.get(name, namespace);
  }

  /** Every cached object. */
  list(): readonly T[] {
    return this.#lw.list();
  }

  get size(): number {
    return this.#lw.list().length;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get restarts(): number {
    return this.#restarts;
  }

  #checkProgress(): void {
    const version = this.#lw.latestResourceVersion();
    if (version !== this.#lastVersion) {
      this.#lastVersion = version;
      this.#lastProgress = Date.now();
      return;
    }
    if (this.#restartTimer === undefined && !this.#replacing && Date.now() - this.#lastProgress >= this.#opts.watchdogMs) {
      this.#lastProgress = Date.now();
      this.#replace();
    }
  }

  /** Watchdog: a fresh ListWatch takes over once it has listed; the silent one is retired. */
  #replace(): void {
    this.#replacing = true;
    this.#restarts++;
    const next = this.#create();
    next
      .start()
      .then(() => {
        const old = this.#lw;
        this.#retired.add(old);
        this.#lw = next;
        if (this.#stopped) void next.stop();
        return old.stop();
      })
      .catch(() => this.#retired.add(next))
      .finally(() => {
        this.#replacing = false;
      });
  }

  /** Single flight: while a restart is pending, further errors are absorbed by it. */
  #scheduleRestart(reason: string): void {
    this.#connected = false;
    if (this.#stopped || this.#restartTimer !== undefined) return;
    const delay = backoffDelay(this.#failures, BACKOFF);
    this.#failures++;
    this.#opts.onRestart(reason, delay);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.#restarts++;
      // The failed watch has already ended: start() resumes from the last resourceVersion.
      this.#lw.start().catch((err: unknown) => this.#scheduleRestart(`restart failed: ${errorText(err)}`));
    }, delay);
    this.#restartTimer.unref();
  }
}
