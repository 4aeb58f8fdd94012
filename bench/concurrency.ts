/** How a bounded concurrent run ended. */
export interface RunOutcome {
  /** Tasks that finished. */
  done: number;
  /** Wall time from the first start to the last finish, ms. */
  wallMs: number;
}

/**
 * Run `task(0..count-1)` with at most `concurrency` in flight, starting no new task once
 * `budgetMs` has passed (bounded by count and by time). The first failure stops new starts; it is
 * rethrown once the tasks in flight have finished, so no child process outlives the call.
 */
export async function runConcurrently(count: number, concurrency: number, budgetMs: number, task: (i: number) => Promise<void>): Promise<RunOutcome> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  let failure: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < count && performance.now() - started < budgetMs) {
      const i = next++;
      try {
        await task(i);
        done++;
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (failure !== undefined) throw failure.err;
  return { done, wallMs: performance.now() - started };
}
