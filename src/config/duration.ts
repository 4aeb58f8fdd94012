/**
 * Go's `time.ParseDuration` syntax, which upstream's duration keys use (`certDuration: "10m"`):
 * a sequence of decimal numbers, each with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), such
 * as `90s`, `1h30m` or `1.5h`; a lone `0` is zero. Negative durations are refused here: no key
 * of ours has a use for them.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds of a Go duration string; a TypeError naming `what` when it is not one. */
export function parseGoDuration(text: string, what: string): number {
  if (text === '0') return 0;
  const bad = (): TypeError => new TypeError(`${what} must be a duration such as "10m", "1h30m" or "90s", got ${JSON.stringify(text)}`);
  if (text === '') throw bad();
  let ms = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < text.length) {
    const match = TERM.exec(text);
    if (match === null) throw bad();
    ms += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
  }
  return ms;
}
