import { pollUntil } from '../../src/util/poll.js';

/** Wait `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Check `check` (sync or async) every 10 ms until it holds; fail after `ms`, naming `what` was awaited. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  await pollUntil(check, { timeoutMs: ms, everyMs: 10, timedOut: () => new Error(`timed out after ${ms} ms waiting for ${what}`) });
}
