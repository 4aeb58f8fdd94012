import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

/**
 * Event-loop delay of the calling thread, p99 since the previous read. monitorEventLoopDelay
 * records the time between its own timer ticks, so every sample includes the sampling interval
 * (an idle loop reads about 10 ms, prom-client's default lag metrics included); that interval
 * is subtracted here, so an idle loop reads about 0.
 */
export function createLoopDelayMonitor(): { p99Seconds(): number; stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  return {
    p99Seconds() {
      const p99 = histogram.percentile(99);
      histogram.reset();
      return Number.isFinite(p99) && p99 > 0 ? Math.max(0, p99 / 1e9 - RESOLUTION_MS / 1000) : 0;
    },
    stop() {
      histogram.disable();
    },
  };
}
