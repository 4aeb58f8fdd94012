import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between two checks (shortened to the time left). */
  everyMs: number;
  /** The error to throw on time-out: built then, so it can tell what the last check saw. */
  timedOut: () => Error;
  /** Ends the wait early, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Check until `check` yields a value (anything but undefined or false), and return it; a check
 * may be async. It runs at least once, and once more at the deadline, so a condition that
 * holds when time runs out is not reported as a time-out.
 */
export async function pollUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, opts: PollOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined && found !== false) return found;
    const left = deadline - Date.now();
    if (left <= 0) throw opts.timedOut();
    await sleep(Math.min(opts.everyMs, left), undefined, opts.signal === undefined ? undefined : { signal: opts.signal });
  }
}
