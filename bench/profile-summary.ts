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
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
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

/**
 * Our modules: built files under dist/. The kube worker runs a bundle, whose source paths are
 * gone: its samples count as outside our code here, and as `kube-bundle` by their own frame.
 */
function ownModule(url: string): string | undefined {
  const m = /\/dist\/(?:app\/dist\/)?([a-z-]+\/[a-z0-9.-]+)\.js$/.exec(url);
  return m?.[1];
}

/** What a sample's own frame is: a runtime pseudo-frame, a library, or a part of Node. */
function library({ functionName, url }: CallFrame): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  for (const lib of ['@kubernetes/client-node', 'pino', 'piscina', 'comlink', 'prom-client', 'node-fetch', 'kube-bundle', 'thin-bundle']) {
    if (url.includes(lib)) return lib;
  }
  const node = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
  if (node !== null) return `node:${node[1] ?? ''}`;
  return ownModule(url) ?? url.replace(/^.*node_modules\//, '');
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
    const own = node === undefined ? undefined : ownModule(node.callFrame.url);
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
