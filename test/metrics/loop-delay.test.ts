import { afterEach, describe, expect, it } from 'vitest';
import { createLoopDelayMonitor, type LoopDelayMonitor } from '../../src/metrics/loop-delay.js';

/** Hold this thread's event loop for `ms`. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('createLoopDelayMonitor', () => {
  let monitor: LoopDelayMonitor | undefined;
  afterEach(() => monitor?.stop());

  it('reads a blocked loop while the thread has work, without the sampling interval', async () => {
    monitor = createLoopDelayMonitor();
    monitor.busy();
    await sleep(30);
    block(80);
    await sleep(30);
    const p99 = monitor.p99Seconds();
    expect(p99).toBeGreaterThanOrEqual(0.06);
    expect(p99).toBeLessThan(1);
    // Read and reset: a quiet loop since then reads about 0 (the 10 ms interval taken off).
    await sleep(50);
    expect(monitor.p99Seconds()).toBeLessThan(0.06);
  });

  it('does not sample a loop that has had no work (no timer wakes an idle thread)', async () => {
    monitor = createLoopDelayMonitor();
    await sleep(20);
    block(80);
    await sleep(30);
    expect(monitor.p99Seconds()).toBe(0);
  });

  it('keeps sampling while work keeps coming within its window', async () => {
    monitor = createLoopDelayMonitor(100);
    monitor.busy();
    await sleep(60);
    monitor.busy();
    await sleep(60); // over 100 ms after the first piece of work, under 100 after the second
    block(80);
    await sleep(20);
    expect(monitor.p99Seconds()).toBeGreaterThanOrEqual(0.06);
  });

  it('stops sampling once the work has been over for its window, and starts again with the next', async () => {
    monitor = createLoopDelayMonitor(50);
    monitor.busy();
    await sleep(200); // the window (50 ms) has passed: sampling stopped at its next check
    monitor.p99Seconds();
    block(80);
    await sleep(30);
    expect(monitor.p99Seconds()).toBe(0);
    monitor.busy();
    await sleep(20);
    block(80);
    await sleep(20);
    expect(monitor.p99Seconds()).toBeGreaterThanOrEqual(0.06);
  });
});
