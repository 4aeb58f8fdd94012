/**
 * The API server stand-in in a process of its own (run by bench/remote-api.ts), so that its
 * answers are not held up by the bench's event loop, which spawns every shim and plugin. Talks
 * to the parent over the IPC channel; exits when the channel closes.
 */
import { FakeApiServer } from '../test/apiserver/server.js';
import { NODE } from '../test/helpers/cluster.js';
import type { ApiOp, ApiReply } from './remote-api.js';

const READ_VERBS = new Set(['get', 'list']);

const api = await FakeApiServer.start();

function serve(op: ApiOp): unknown {
  switch (op.op) {
    case 'createPods':
      return op.names.map((name) => {
        const pod = api.createPod({ metadata: { namespace: op.namespace, name }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } });
        return pod.metadata.uid;
      });
    case 'deletePods':
      for (const name of op.names) {
        try {
          api.deletePod(op.namespace, name);
        } catch {
          // already gone
        }
      }
      return null;
    case 'countRequests': {
      const requests = api.requests().filter((r) => r.verb !== 'watch');
      const reads = requests.filter((r) => READ_VERBS.has(r.verb)).length;
      return { reads, writes: requests.length - reads };
    }
    case 'resetRequests':
      api.resetRequests();
      return null;
  }
}

process.on('message', (msg: { id: number; op: ApiOp }) => {
  let reply: ApiReply;
  try {
    reply = { id: msg.id, ok: true, result: serve(msg.op) };
  } catch (err) {
    reply = { id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  process.send?.(reply);
});
process.on('disconnect', () => {
  void api.close().then(() => process.exit(0));
});
process.send?.({ id: 0, ok: true, result: api.url } satisfies ApiReply);
