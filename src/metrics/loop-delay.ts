import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
/** A thread's loop is sampled until this long after its last piece of work. */
const SAMPLED_AFTER_WORK_MS = 50;

export interface LoopDelayMonitor {
  /** The thread has work (a request, an API call, a watch event): sample its loop from now on. */
  busy(): void;
  /** The delay's p99 since the previous read, s (0 if the loop was not sampled). */
  p99Seconds(): number;
  stop(): void;
}

/**
 * Event-loop delay of the calling thread while it has work. monitorEventLoopDelay wakes the
 * thread every RESOLUTION_MS: 2–3 ms of CPU a second per thread on an idle daemon. So it runs
 * only from a `busy()` until SAMPLED_AFTER_WORK_MS after the last one: under load, where the
 * delay matters, work keeps coming and the loop is sampled throughout; a pod now and then gets
 * a few samples, not 2 s of them (with a 2 s window, pods a few hundred ms apart kept both
 * threads woken 100 times a second: 1.5–2 ms of the kube worker's CPU per pod, README "Where the
 * daemon's CPU per pod goes"). Every sample includes the sampling interval (an idle loop reads
 * about 10 ms, prom-client's default lag metrics included); that interval is subtracted here,
 * so an unloaded loop reads about 0. (Re-enabling does not record the gap since the last
 * sample: checked on Node 26.)
 */
export function createLoopDelayMonitor(sampledAfterWorkMs = SAMPLED_AFTER_WORK_MS): LoopDelayMonitor {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  // Ends the sampling; pushed back by each piece of work (refresh), so no timer of its own ticks.
  let sampling: NodeJS.Timeout | undefined;
  const stopSampling = (): void => {
    histogram.disable();
    clearTimeout(sampling);
    sampling = undefined;
  };
  return {
    busy() {
      if (sampling !== undefined) {
        sampling.refresh();
        return;
      }
      histogram.enable();
      sampling = setTimeout(stopSampling, sampledAfterWorkMs).unref();
    },
    p99Seconds() {
      const p99 = histogram.percentile(99);
      histogram.reset();
      return Number.isFinite(p99) && p99 > 0 ? Math.max(0, p99 / 1e9 - RESOLUTION_MS / 1000) : 0;
    },
    stop: stopSampling,
  };
}
