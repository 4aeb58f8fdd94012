import { join } from 'node:path';
import { writeKubeconfig } from '../test/apiserver/kubeconfig.js';
import { NODE } from '../test/helpers/cluster.js';
import { freePort, startTestDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import type { TestHost } from '../test/helpers/host.js';
import { track } from './children.js';
import { forwardedDaemonEnv } from './env.js';
import { RemoteApi } from './remote-api.js';

/** A daemon wired through a kubeconfig to the API server stand-in, which runs in its own process. */
export interface BenchCluster {
  api: RemoteApi;
  daemon: TestDaemon;
  /** The daemon's `metricsPort` (GET http://127.0.0.1:<port>/metrics). */
  metricsPort: number;
  /** The daemon's pid, for /proc/<pid>/status. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * What startTestCluster does, with the API server stand-in in a child process (bench/api-child.ts):
 * under churn the bench's own event loop is busy spawning shims and plugins, and an in-process
 * stand-in would answer the daemon late, charging the bench's delay to Multus. Quiet logs,
 * `binDir` searched first for plugins (Debian's come next, through CNI_PATH), a free
 * `metricsPort`, `env` as extra daemon tunables (MULTUS_WORKER_THREADS, ...).
 */
export async function startBenchCluster(host: TestHost, binDir: string, env: Record<string, string> = {}): Promise<BenchCluster> {
  const api = await RemoteApi.start();
  try {
    const kubeconfig = join(host.dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, api.url);
    const metricsPort = await freePort();
    const daemon = await startTestDaemon(host.dir, { kubeconfig, binDir, logLevel: 'error', metricsPort }, { MULTUS_NODE_NAME: NODE, ...forwardedDaemonEnv(), ...env });
    track(daemon.process);
    return {
      api,
      daemon,
      metricsPort,
      pid: daemon.process.pid,
      async stop() {
        await daemon.stop();
        await api.close();
      },
    };
  } catch (err) {
    await api.close();
    throw err;
  }
}
