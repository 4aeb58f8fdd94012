import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { socketGet, startTestDaemon } from '../helpers/daemon.js';
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

  // --trace-opt (on the test's command line) says on stdout each function V8 compiles with them.
  it('runs without V8\'s optimizing compilers, unless MULTUS_OPTIMIZING_JIT=1', async () => {
    host = new TestHost();
    const compiledWhileServing = async (name: string, env: Record<string, string>): Promise<string[]> => {
      const dir = join(host?.dir ?? '', name);
      const daemon = await startTestDaemon(dir, {}, env, ['--trace-opt']);
      try {
        const trace = join(dir, 'daemon.stdout');
        const ready = statSync(trace).size;
        // Enough requests for node:http's and our handlers' functions to be hot.
        for (let i = 0; i < 1000; i++) expect(await socketGet(daemon.socketDir, '/readyz')).toBe(200);
        return readFileSync(trace, 'utf8').slice(ready).split('\n').filter((line) => /^\[completed compiling .*\(target (MAGLEV|TURBOFAN)/.test(line));
      } finally {
        await daemon.stop();
      }
    };
    expect(await compiledWhileServing('default', {})).toEqual([]);
    expect((await compiledWhileServing('optimizing', { MULTUS_OPTIMIZING_JIT: '1' })).length).toBeGreaterThan(0);
  }, 60_000);
});
