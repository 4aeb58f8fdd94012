import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';

/** The operations the API child serves (bench/api-child.ts). */
export type ApiOp =
  | { op: 'createPods'; namespace: string; names: string[] }
  | { op: 'deletePods'; namespace: string; names: string[] }
  | { op: 'countRequests' }
  | { op: 'resetRequests' };

export type ApiReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const CHILD = fileURLToPath(new URL('./api-child.ts', import.meta.url));

/** FakeApiServer in a child process, driven over IPC. */
export class RemoteApi {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;

  private constructor(child: ChildProcess, readonly url: string) {
    this.#child = child;
    child.on('message', (reply: ApiReply) => {
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.result);
      else waiter?.reject(new Error(reply.error));
    });
    child.once('exit', () => {
      for (const w of this.#pending.values()) w.reject(new Error('API server child exited'));
      this.#pending.clear();
    });
  }

  /** Fork the child (through tsx, like the bench) and wait for its URL. */
  static start(): Promise<RemoteApi> {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    track(child);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`API server child exited with ${String(code)}`)));
      child.once('message', (first: ApiReply) => (first.ok ? resolve(new RemoteApi(child, String(first.result))) : reject(new Error(first.error))));
    });
  }

  #call(op: ApiOp): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.send({ id, op });
    });
  }

  /** Create pods bound to the daemon's node; returns their uids in order. */
  async createPods(namespace: string, names: string[]): Promise<string[]> {
    return (await this.#call({ op: 'createPods', namespace, names })) as string[];
  }

  async deletePods(namespace: string, names: string[]): Promise<void> {
    await this.#call({ op: 'deletePods', namespace, names });
  }

  /** API requests recorded since the last reset, watches excluded: reads are get and list. */
  async countRequests(): Promise<{ reads: number; writes: number }> {
    return (await this.#call({ op: 'countRequests' })) as { reads: number; writes: number };
  }

  async resetRequests(): Promise<void> {
    await this.#call({ op: 'resetRequests' });
  }

  /** Close the IPC channel; the child closes the server and exits. */
  close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.disconnect();
    });
  }
}
