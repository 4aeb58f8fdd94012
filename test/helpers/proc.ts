import { readFileSync } from 'node:fs';

/** A process's memory, from /proc/<pid>/status, in MiB. */
export interface Memory {
  /** VmHWM: the peak resident set since the process started. */
  peakMiB: number;
  /** VmRSS: the resident set now. */
  rssMiB: number;
}

/** The memory of `pid`, or undefined when the process is gone (or has no such lines). */
export function readMemory(pid: number | undefined): Memory | undefined {
  if (pid === undefined) return undefined;
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const peak = kib('VmHWM');
  const rss = kib('VmRSS');
  return peak === undefined || rss === undefined ? undefined : { peakMiB: peak / 1024, rssMiB: rss / 1024 };
}
