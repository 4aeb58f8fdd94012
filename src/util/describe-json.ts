/**
 * How an error message names a JSON value of the wrong kind: its kind, and for a scalar the value
 * itself (strings shortened), so that the person reading it can find it in their input.
 */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `the ${typeof v} ${String(v)}`;
  return typeof v;
}

/** The same, but a number is shown bare: for a number that is out of range rather than of the wrong kind. */
export function describeJsonNumber(v: unknown): string {
  return typeof v === 'number' ? String(v) : describeJson(v);
}

/** `s` cut to `max` characters, ending in "..." when cut. */
export function truncate(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}
