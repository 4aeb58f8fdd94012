/**
 * Sums the `.cpuprofile` files a daemon wrote under `--cpu-prof` (one per thread; see
 * BENCH_DAEMON_NODE_OPTIONS in env.ts) into where the time went:
 *
 *   node --import tsx bench/profile-summary.ts <dir> [pods]
 *
 * For each profile: its sampled time, then the time by the nearest frame of our own code
 * (`dist/<dir>/<file>`) above each sample, so a library's or Node's
 * time is charged to the module of ours that called it, and the self time by library
 * (client-node, pino, piscina, comlink, Node's fs, net and streams...). With `pods`, ms per pod.
 * Frames in a bundle (the image layout's dist/app, the kube worker's and the thin plugin's
 * bundles) are placed by the `// <path>` comment esbuild writes above each module it bundles.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, as V8 reports it. */
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A bundle's modules: the 0-based line of each `// <path>` comment esbuild writes above one, in order. */
type ModuleMarks = Array<{ line: number; path: string }>;
const bundles = new Map<string, ModuleMarks>();

function marksOf(url: string): ModuleMarks {
  const known = bundles.get(url);
  if (known !== undefined) return known;
  const marks: ModuleMarks = [];
  if (url.startsWith('file://')) {
    try {
      readFileSync(new URL(url), 'utf8')
        .split('\n')
        .forEach((text, line) => {
          const m = /^\/\/ ((?:dist|src|node_modules)\/\S+\.[cm]?[jt]s)$/.exec(text);
          if (m?.[1] !== undefined) marks.push({ line, path: m[1] });
        });
    } catch {
      // Gone since the profile was taken: no marks, the frame keeps its url.
    }
  }
  bundles.set(url, marks);
  return marks;
}

/** The source path of the module a frame is in: the bundle's mark above its line, or the url itself. */
function sourcePath({ url, lineNumber }: CallFrame): string {
  const marks = marksOf(url);
  // The last mark at or above the frame's line (binary search: profiles have many samples).
  let lo = 0;
  let hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((marks[mid]?.line ?? 0) <= lineNumber) lo = mid + 1;
    else hi = mid;
  }
  return marks[lo - 1]?.path ?? url;
}

/** Our module at a source path: a built file under dist/, on its own or in a bundle (a dependency's dist/ is not ours). */
function ownModule(path: string): string | undefined {
  if (path.includes('node_modules/')) return undefined;
  return /(?:^|\/)dist\/(?:app\/dist\/)?([a-z0-9-]+\/[a-z0-9.-]+)\.js$/.exec(path)?.[1];
}

/** What a sample's own frame is: a runtime pseudo-frame, a library, or a part of Node. */
function library(frame: CallFrame): string {
  const { functionName, url } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  const path = sourcePath(frame);
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (dependency?.[1] !== undefined) return dependency[1];
  const node = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
  if (node !== null) return `node:${node[1] ?? ''}`;
  return ownModule(path) ?? path;
}

function addTo(map: Map<string, number>, key: string, ms: number): void {
  map.set(key, (map.get(key) ?? 0) + ms);
}

function summarize(profile: Profile): { totalMs: number; byOwn: Map<string, number>; bySelf: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownOf = new Map<number, string>();
  const nearestOwn = (id: number): string => {
    const known = ownOf.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const own = node === undefined ? undefined : ownModule(sourcePath(node.callFrame));
    const up = parent.get(id);
    const value = own ?? (up === undefined ? '(outside our code)' : nearestOwn(up));
    ownOf.set(id, value);
    return value;
  };
  const byOwn = new Map<string, number>();
  const bySelf = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined || frame.functionName === '(idle)') return;
    totalMs += ms;
    addTo(byOwn, nearestOwn(id), ms);
    addTo(bySelf, library(frame), ms);
  });
  return { totalMs, byOwn, bySelf };
}

function top(map: Map<string, number>, per: number, limit = 18): string {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k, ms]) => `    ${(ms / per).toFixed(3).padStart(9)}  ${k}`)
    .join('\n');
}

const [dir = '.', podsArg] = process.argv.slice(2);
const per = podsArg === undefined ? 1 : Number(podsArg);
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const { totalMs, byOwn, bySelf } = summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
  process.stdout.write(`${file}: ${(totalMs / per).toFixed(2)} ms${per === 1 ? '' : ' per pod'} sampled, idle excluded\n  by our module above the sample:\n${top(byOwn, per)}\n  by the sample's own frame:\n${top(bySelf, per)}\n\n`);
}
