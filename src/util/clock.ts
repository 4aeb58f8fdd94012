/**
 * Milliseconds on the system's monotonic clock (CLOCK_MONOTONIC, through process.hrtime): the same
 * clock in every thread, so a pool thread's start minus the main thread's submit is the task's
 * wait. `performance.now()` would do too, from its own thread's origin, but the `performance`
 * global loads perf_hooks and nine more modules, which a thin call (one process per CNI call)
 * would load for its plugin timings alone: about 3 ms.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
