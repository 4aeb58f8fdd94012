import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
/** A thread's loop is sampled until this long after its last piece of work. */
const SAMPLED_AFTER_WORK_MS = 2000;

export interface LoopDelayMonitor {
  /** The thread has work (a request, an API call, a watch event): sample its loop from now on. */
  busy(): void;
  /** The delay's p99 since the previous read, s (0 if the loop was not sampled). */
  p99Seconds(): number;
  stop(): void;
}

/**
 * Event-loop delay of the calling thread while it has work. monitorEventLoopDelay wakes the
 * thread every RESOLUTION_MS: 2–3 ms of CPU a second per thread on an idle daemon, which is
 * where nearly all of its idle CPU went. So it runs only from a `busy()` until
 * SAMPLED_AFTER_WORK_MS after the last one; an idle loop has no work to delay. Every sample
 * includes the sampling interval (an idle loop reads about 10 ms, prom-client's default lag
 * metrics included); that interval is subtracted here, so an unloaded loop reads about 0.
 * (Re-enabling does not record the gap since the last sample: checked on Node 26.)
 */
export function createLoopDelayMonitor(sampledAfterWorkMs = SAMPLED_AFTER_WORK_MS): LoopDelayMonitor {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  let lastWork = 0;
  let idleCheck: NodeJS.Timeout | undefined;
  const stopSampling = (): void => {
    histogram.disable();
    clearInterval(idleCheck);
    idleCheck = undefined;
  };
  return {
    busy() {
      lastWork = performance.now();
      if (idleCheck !== undefined) return;
      histogram.enable();
      idleCheck = setInterval(() => {
        if (performance.now() - lastWork >= sampledAfterWorkMs) stopSampling();
      }, sampledAfterWorkMs).unref();
    },
    p99Seconds() {
      const p99 = histogram.percentile(99);
      histogram.reset();
      return Number.isFinite(p99) && p99 > 0 ? Math.max(0, p99 / 1e9 - RESOLUTION_MS / 1000) : 0;
    },
    stop: stopSampling,
  };
}
