import { ListWatch, type KubernetesObject, type Watch } from '@kubernetes/client-node';

/**
 * A ListWatch that keeps itself alive. client-node 1.4.0's ListWatch stops for good on any
 * watch error other than 410 (it only emits 'error'), and a half-open connection can leave it
 * silent forever. So: one single-flight restart with capped exponential backoff and jitter on
 * every error, and a watchdog that restarts a watch whose resourceVersion has not moved for
 * `watchdogMs`. A restart resumes from the last resourceVersion; a 410 makes ListWatch relist.
 */

export interface InformerOptions<T extends KubernetesObject> {
  /** API path, e.g. `/api/v1/pods`. */
  path: string;
  watch: Watch;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  fieldSelector?: string;
  watchdogMs: number;
  onRestart: (reason: string, delayMs: number) => void;
}

const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

export class ResilientInformer<T extends KubernetesObject> {
  readonly #lw: ListWatch<T>;
  readonly #opts: InformerOptions<T>;
  #stopped = false;
  #connected = false;
  #restarts = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastVersion = '';
  #lastProgress = Date.now();

  constructor(opts: InformerOptions<T>) {
    this.#opts = opts;
    this.#lw = new ListWatch<T>(opts.path, opts.watch, opts.list, false, undefined, opts.fieldSelector);
    this.#lw.on('connect', () => {
      this.#connected = true;
    });
    const progress = (): void => {
      this.#failures = 0;
      this.#lastProgress = Date.now();
    };
    this.#lw.on('add', progress);
    this.#lw.on('update', progress);
    this.#lw.on('delete', progress);
    this.#lw.on('error', (err) => this.#scheduleRestart(`watch error: ${errorText(err)}`));
  }

  /** List and start watching; resolves after the first list, or rejects if it fails (a restart is scheduled anyway). */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#watchdog = setInterval(() => this.#checkProgress(), Math.max(1000, Math.floor(this.#opts.watchdogMs / 4)));
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
    if (this.#restartTimer === undefined && Date.now() - this.#lastProgress >= this.#opts.watchdogMs) {
      this.#lastProgress = Date.now();
      this.#restartNow(`no watch progress for ${this.#opts.watchdogMs} ms`);
    }
  }

  /** Single flight: while a restart is pending, further errors are absorbed by it. */
  #scheduleRestart(reason: string): void {
    this.#connected = false;
    if (this.#stopped || this.#restartTimer !== undefined) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.#failures);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.#failures++;
    this.#opts.onRestart(reason, delay);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#restartNow(reason);
    }, delay);
    this.#restartTimer.unref();
  }

  #restartNow(reason: string): void {
    if (this.#stopped) return;
    this.#restarts++;
    // stop() aborts the current watch; start() resumes from the last resourceVersion.
    this.#lw
      .stop()
      .then(() => this.#lw.start())
      .catch((err: unknown) => this.#scheduleRestart(`${reason}; restart failed: ${errorText(err)}`));
  }
}

/** A readable message for client-node errors (ApiException bodies are JSON strings). */
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
