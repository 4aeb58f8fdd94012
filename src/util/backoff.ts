/** How a retry delay grows: `startMs` for the first retry, times `factor` per retry, capped at `maxMs`. */
export interface BackoffOptions {
  startMs: number;
  maxMs: number;
  /** Growth per retry; 2 unless told. */
  factor?: number;
  /**
   * Fraction of the delay taken off at random, 0 (none) to 1: with 0.5 a delay lies in
   * [base/2, base]. Callers that many processes run at once (every node's daemon after an API
   * server outage) spread out this way instead of retrying in lockstep. The cap stays a cap.
   */
  jitter?: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): capped exponential growth
 * with optional jitter. `random` is there for tests.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(opts.maxMs, opts.startMs * (opts.factor ?? 2) ** attempt);
  return Math.round(base * (1 - (opts.jitter ?? 0) * random()));
}
