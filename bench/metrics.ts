import { request } from 'node:http';

/** One series of a scrape. */
export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** One scrape of a Prometheus text endpoint. */
export type Scrape = readonly Sample[];

/** The main thread's event-loop delay p99, sampling interval excluded (reset at each scrape). */
export const MAIN_LAG_P99 = 'multus_main_eventloop_lag_p99_seconds';
/** The kube worker thread's event-loop delay p99, sampling interval excluded (reset at each scrape). */
export const KUBE_LAG_P99 = 'multus_kube_eventloop_lag_p99_seconds';
/** CNI requests from decoding to the answer, by command and result (histogram). */
export const CNI_REQUEST = 'multus_cni_request_duration_seconds';
/** One delegate plugin run, spawn to exit, by plugin, command and result (histogram). */
export const DELEGATE = 'multus_delegate_duration_seconds';
/** Kubernetes API requests of the kube worker, by verb and code (histogram). */
export const K8S_REQUEST = 'multus_k8s_request_duration_seconds';
/** Time a plugin run waited for a delegate pool slot (histogram). */
export const POOL_WAIT = 'multus_pool_wait_seconds';

/** Parse the Prometheus text exposition format (comments skipped, timestamps ignored). */
export function parseMetrics(text: string): Scrape {
  const out: Sample[] = [];
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = sample.exec(line);
    if (m?.[1] === undefined || m[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(label)) if (l[1] !== undefined) labels[l[1]] = (l[2] ?? '').replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const matches = (s: Sample, name: string, labels: Record<string, string>): boolean => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** The sum of every series of `name` whose labels include `labels`; undefined when there is none (not exported yet). */
export function metric(scrape: Scrape | undefined, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = scrape?.filter((s) => matches(s, name, labels));
  return found === undefined || found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
}

/**
 * A histogram's mean over the window between two scrapes, in its unit (seconds); undefined
 * when the histogram is missing or saw nothing in the window.
 */
export function windowMean(before: Scrape | undefined, after: Scrape | undefined, name: string, labels: Record<string, string> = {}): number | undefined {
  const delta = (suffix: string): number | undefined => {
    if (before === undefined || after === undefined) return undefined;
    const a = metric(after, `${name}${suffix}`, labels);
    // A labelled series appears at its first observation: absent before means zero before.
    return a === undefined ? undefined : a - (metric(before, `${name}${suffix}`, labels) ?? 0);
  };
  const sum = delta('_sum');
  const count = delta('_count');
  return sum === undefined || count === undefined || count <= 0 ? undefined : sum / count;
}

/**
 * GET http://127.0.0.1:<port>/metrics. Undefined when there is no endpoint (the daemon may not
 * export metrics): the benches print "n/a" instead of failing.
 */
export function scrapeMetrics(port: number | undefined): Promise<Scrape | undefined> {
  if (port === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', method: 'GET', timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode === 200 ? parseMetrics(Buffer.concat(chunks).toString('utf8')) : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
