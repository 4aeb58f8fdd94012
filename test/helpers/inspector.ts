/**
 * Ends one worker thread of a running Node.js process for real, from outside, with no hook in
 * the product: through the process's inspector (started with `--inspect=127.0.0.1:<port>`), the
 * thread runs `process.exit(1)` (as an uncaught error or an isolate out of memory ends it).
 *
 * Kills are one at a time, and each waits until the killed thread is gone from the process:
 * `NodeWorker.enable` in a new session while a killed worker is still being torn down aborts
 * Node (SIGABRT in MainThreadInterface::Post, no word on stderr; seen on 26.x after a few dozen
 * kills in the soak). A session kept open across kills is no way out: workers started while it
 * is attached never ran.
 */

import { readdirSync } from 'node:fs';
import { pollUntil } from '../../src/util/poll.js';

/** What the inspector says of a worker thread. */
export interface WorkerInfo {
  title: string;
  url: string;
}

interface Message {
  id?: number;
  method?: string;
  params?: { sessionId?: string; workerInfo?: WorkerInfo };
}

/** The OS threads of a process. */
function threadsOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** The kill in progress: the next one starts after it. */
let previous: Promise<unknown> = Promise.resolve();

/**
 * Resolves once the picked thread of process `pid` is gone (the inspector detached from it and
 * one of the process's OS threads ended); rejects when none matches within `timeoutMs`.
 */
export function exitWorkerThread(inspectPort: number, pid: number, pick: (w: WorkerInfo) => boolean, timeoutMs = 5000): Promise<WorkerInfo> {
  const kill = previous.catch(() => undefined).then(() => exitOne(inspectPort, pid, pick, timeoutMs));
  previous = kill;
  return kill;
}

async function exitOne(inspectPort: number, pid: number, pick: (w: WorkerInfo) => boolean, timeoutMs: number): Promise<WorkerInfo> {
  const before = threadsOf(pid);
  const info = await sessionExit(inspectPort, pick, timeoutMs);
  await pollUntil(() => before.some((t) => !threadsOf(pid).includes(t)), { timeoutMs, everyMs: 5, timedOut: () => new Error(`thread "${info.title}" detached but never ended`) });
  return info;
}

async function sessionExit(inspectPort: number, pick: (w: WorkerInfo) => boolean, timeoutMs: number): Promise<WorkerInfo> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${inspectPort}`);
  const ws = new WebSocket(url);
  try {
    return await new Promise<WorkerInfo>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such worker thread, or it did not end')), timeoutMs);
      let chosen: { sessionId: string; info: WorkerInfo } | undefined;
      ws.onerror = () => reject(new Error(`inspector connection to ${url} failed`));
      ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'NodeWorker.enable', params: { waitForDebuggerOnStart: false } }));
      ws.onmessage = (event: MessageEvent) => {
        const msg = JSON.parse(String(event.data)) as Message;
        const { sessionId, workerInfo } = msg.params ?? {};
        if (msg.method === 'NodeWorker.attachedToWorker' && chosen === undefined && sessionId !== undefined && workerInfo !== undefined && pick(workerInfo)) {
          chosen = { sessionId, info: workerInfo };
          const evaluate = { id: 1, method: 'Runtime.evaluate', params: { expression: 'process.exit(1)' } };
          ws.send(JSON.stringify({ id: 2, method: 'NodeWorker.sendMessageToWorker', params: { sessionId, message: JSON.stringify(evaluate) } }));
        }
        if (msg.method === 'NodeWorker.detachedFromWorker' && chosen !== undefined && sessionId === chosen.sessionId) {
          clearTimeout(timer);
          resolve(chosen.info);
        }
      };
    });
  } finally {
    ws.close();
  }
}
