import type { Logger } from 'pino';
import { ExplainUnavailable, explainPod, type ExplainDeps, type ExplainTarget } from '../explain/explain.js';
import { renderReport } from '../explain/render.js';
import { podFromObject } from '../k8s/pod-manifest.js';
import type { Reply } from './socket-server.js';

/**
 * GET /explain?namespace=&name= (a pod in the cluster) and POST /explain with a Pod as JSON (one
 * that need not exist): the explain report of its ADD, JSON, or text with `output=text`. Read
 * only: the handler is given the reading half of Kubernetes access and no runner, so it cannot
 * run a plugin or write to the API server. 200 with the report whatever its verdict; 400 for a
 * bad request, 404 for a pod that does not exist, 503 when the API server cannot be read.
 */
export function createExplainHandler(deps: ExplainDeps, log: Logger): (query: URLSearchParams, body: Buffer | undefined) => Promise<Reply> {
  const STATUS = { 'bad-input': 400, 'not-found': 404, unavailable: 503 } as const;
  return async (query, body) => {
    try {
      const report = await explainPod(targetOf(query, body), deps);
      log.info({ pod: `${report.pod.namespace}/${report.pod.name}`, verdict: report.verdict, errors: report.errors.map((e) => e.rule) }, 'explain');
      return { status: 200, body: query.get('output') === 'text' ? renderReport(report) : JSON.stringify(report) };
    } catch (err) {
      if (!(err instanceof ExplainUnavailable)) throw err;
      return { status: STATUS[err.reason], body: JSON.stringify({ error: err.message }) };
    }
  };
}

function targetOf(query: URLSearchParams, body: Buffer | undefined): ExplainTarget {
  if (body === undefined) {
    const namespace = query.get('namespace') ?? '';
    const name = query.get('name') ?? '';
    if (namespace === '' || name === '') throw new ExplainUnavailable('GET /explain needs ?namespace=<ns>&name=<pod>', 'bad-input');
    return { kind: 'cluster', namespace, name };
  }
  let obj: unknown;
  try {
    obj = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ExplainUnavailable(`POST /explain: the body is not JSON: ${(err as Error).message}`, 'bad-input');
  }
  try {
    return { kind: 'manifest', pod: podFromObject(obj, 'POST /explain body') };
  } catch (err) {
    throw new ExplainUnavailable((err as Error).message, 'bad-input');
  }
}
