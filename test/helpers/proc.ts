import { readFileSync, readdirSync } from 'node:fs';

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

/** Each process's `/proc/<pid>/<file>`, with its pid (processes gone meanwhile, or not ours to read, are skipped). */
function eachProcess(file: string, visit: (pid: number, text: string) => void): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/${file}`, 'utf8');
    } catch {
      continue;
    }
    visit(Number(entry), text);
  }
}

/** The PIDs of the processes whose environment satisfies `match` (those we cannot read are skipped). */
export function pidsByEnv(match: (env: ReadonlyMap<string, string>) => boolean): number[] {
  const pids: number[] = [];
  eachProcess('environ', (pid, environ) => {
    const env = new Map(environ.split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
    if (match(env)) pids.push(pid);
  });
  return pids;
}

/**
 * SIGKILL every process whose environment has `name=<value starting with prefix>` (e.g. the
 * plugin runs of one test's containers), with its process group; returns how many were found.
 * Plugins run in process groups of their own, so a daemon SIGKILLed mid-ADD leaves a slow
 * plugin running: a test that kills daemons ends its own leftovers this way.
 */
export function killProcessesWithEnv(name: string, prefix: string): number {
  const pids = pidsByEnv((env) => env.get(name)?.startsWith(prefix) === true);
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or already gone
      }
    }
  }
  return pids.length;
}

/**
 * The fields of a `/proc/<pid>/stat` (or a thread's) after the command name, from the state on:
 * "pid (comm) state ppid ...", and comm may hold spaces and parentheses, so split at the last ')'.
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The processes whose parent is `pid`, each with its command name (comm). */
export function childProcesses(pid: number): Array<{ pid: number; comm: string }> {
  const children: Array<{ pid: number; comm: string }> = [];
  eachProcess('stat', (child, stat) => {
    const ppid = Number(statFields(stat)[1]);
    if (ppid === pid) children.push({ pid: child, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
  });
  return children;
}
