import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { TestHost } from '../helpers/host.js';

let host: TestHost | undefined;
let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  host?.cleanup();
});

describe('the daemon under Node flags an operator adds to its command', () => {
  // Node refuses these in a worker's explicit execArgv: the kube worker must still start (it did
  // not, and the daemon exited 1 at start).
  it('starts its kube worker with process-wide flags (--max-old-space-size, --stack-trace-limit)', async () => {
    host = new TestHost();
    cluster = await startTestCluster(host, {}, {}, ['--max-old-space-size=256', '--stack-trace-limit=20']);
    cluster.pod('default', 'flags-pod');
    await cluster.cached();
    expect((await cluster.daemon.gauges()).multus_informer_connected).toBe(1);
    expect(await cluster.daemon.stuckWork()).toEqual([]);
  });
});
