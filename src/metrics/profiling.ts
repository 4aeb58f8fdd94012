import type { IncomingMessage, ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { pipeline } from 'node:stream/promises';
import { getHeapSnapshot } from 'node:v8';

/** The longest CPU profile one request may ask for, and the length when it does not say (Go's). */
export const PROFILE_MAX_SECONDS = 60;
const PROFILE_DEFAULT_SECONDS = 30;

/** Whether a profile or heap snapshot is being taken: one at a time, both stall the daemon a little. */
let busy = false;

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
}

/** `?seconds=N`: a whole number of seconds between 1 and PROFILE_MAX_SECONDS. */
function profileSeconds(query: URLSearchParams): number | undefined {
  const raw = query.get('seconds');
  if (raw === null) return PROFILE_DEFAULT_SECONDS;
  const seconds = Number(raw);
  return /^\d+$/.test(raw) && seconds >= 1 && seconds <= PROFILE_MAX_SECONDS ? seconds : undefined;
}

/** A CPU profile of the daemon's main thread for `seconds`, in the .cpuprofile format DevTools loads. */
async function cpuProfile(seconds: number): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const { profile } = await session.post('Profiler.stop');
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

/** Answer a heap snapshot (`seconds` undefined) or a CPU profile, as a file to save. */
async function answer(res: ServerResponse, seconds: number | undefined): Promise<void> {
  const headers = (extension: string): Record<string, string> => ({
    'Content-Type': 'application/json',
    'Content-Disposition': `attachment; filename="multus-${new Date().toISOString().replaceAll(':', '-')}.${extension}"`,
  });
  if (seconds === undefined) {
    res.writeHead(200, headers('heapsnapshot'));
    await pipeline(getHeapSnapshot(), res);
    return;
  }
  const profile = await cpuProfile(seconds);
  res.writeHead(200, headers('cpuprofile')).end(profile);
}

/**
 * Upstream's `enablePprof` (v4.3.0: Go's /debug/pprof/ on the metrics port), the Node way, served
 * only when enabled: `/debug/pprof/profile?seconds=N` answers a CPU profile of the main thread
 * (`.cpuprofile`, for Chrome DevTools' Performance panel), `/debug/pprof/heap` a heap snapshot
 * (`.heapsnapshot`, for its Memory panel). Bounded: one at a time (409 otherwise), at most
 * PROFILE_MAX_SECONDS. Returns false for other paths.
 */
export function serveProfiling(req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://metrics');
  const heap = url.pathname === '/debug/pprof/heap';
  if (!heap && url.pathname !== '/debug/pprof/profile') return false;
  const seconds = heap ? undefined : profileSeconds(url.searchParams);
  if (!heap && seconds === undefined) {
    refuse(res, 400, `seconds must be a whole number from 1 to ${PROFILE_MAX_SECONDS}`);
    return true;
  }
  if (busy) {
    refuse(res, 409, 'a profile or heap snapshot is already being taken; try again when it is done');
    return true;
  }
  busy = true;
  answer(res, seconds)
    .catch((err: unknown) => {
      if (!res.headersSent) refuse(res, 500, String(err));
      else res.destroy();
    })
    .finally(() => {
      busy = false;
    });
  return true;
}
