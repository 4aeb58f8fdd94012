import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/util/backoff.js';

describe('backoffDelay', () => {
  it('grows by the factor from the start and stops at the cap', () => {
    const opts = { startMs: 1000, maxMs: 60_000, factor: 4 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, opts))).toEqual([1000, 4000, 16_000, 60_000, 60_000]);
    expect([0, 1, 2, 5, 40].map((n) => backoffDelay(n, { startMs: 1000, maxMs: 30_000 }))).toEqual([1000, 2000, 4000, 30_000, 30_000]);
  });

  it('takes at most the jitter fraction off, so the cap stays a cap', () => {
    const opts = { startMs: 1000, maxMs: 30_000, jitter: 0.5 };
    expect(backoffDelay(10, opts, () => 0)).toBe(30_000);
    expect(backoffDelay(10, opts, () => 0.999_999)).toBe(15_000);
    expect(backoffDelay(1, opts, () => 0.5)).toBe(1500);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, opts);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});
