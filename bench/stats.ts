/** Percentiles of a sample, in the sample's unit (milliseconds for latencies). */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; NaN everywhere for an empty sample. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

/** The arithmetic mean; NaN for an empty sample. */
export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? NaN : samples.reduce((a, b) => a + b, 0) / samples.length;
}

export const ms = (v: number): string => `${v.toFixed(2)} ms`;

/** A number for a table cell; "n/a" when it is missing or not finite. */
export function fixed(v: number | undefined, digits = 2): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}
