import { join } from 'node:path';
import { pollUntil } from '../../src/util/poll.js';
import { FakeApiServer } from '../apiserver/server.js';
import { writeKubeconfig } from '../apiserver/kubeconfig.js';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import type { TestHost } from './host.js';

/** The node name the daemon under test runs on. */
export const NODE = 'node-a';

/** Create a pod bound to this node, as the scheduler leaves it; returns its uid. */
export function createNodePod(api: FakeApiServer, namespace: string, name: string, annotations: Record<string, string> = {}): string {
  const pod = api.createPod({ metadata: { namespace, name, annotations }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } }) as { metadata: { uid: string } };
  return pod.metadata.uid;
}

/** A daemon wired to an in-repo API server through a kubeconfig, as on a real node. */
export interface TestCluster {
  api: FakeApiServer;
  daemon: TestDaemon;
  kubeconfig: string;
  /** Create a pod bound to this node; returns its uid. */
  pod(namespace: string, name: string, annotations?: Record<string, string>): string;
  /**
   * Wait until the daemon's informer caches hold as many pods of this node and NADs as the API
   * server: the watch has delivered what a test just created, as it has long before kubelet asks
   * in real life. By count, so it holds when a test creates and deletes objects one at a time.
   */
  cached(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestCluster(host: TestHost, config: Record<string, unknown> = {}, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<TestCluster> {
  const api = await FakeApiServer.start();
  const kubeconfig = join(host.dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, api.url);
  const daemon = await startTestDaemon(host.dir, { kubeconfig, ...config }, { MULTUS_NODE_NAME: NODE, MULTUS_API_TIMEOUT_MS: '2000', ...env }, nodeArgs);
  return {
    api,
    daemon,
    kubeconfig,
    pod: (namespace, name, annotations = {}) => createNodePod(api, namespace, name, annotations),
    async cached() {
      const want = (): string => `pods ${String(api.countPods(NODE))}, nads ${String(api.countNads())}`;
      let have = '';
      const check = async (): Promise<boolean> => {
        const gauges = await daemon.gauges();
        have = `pods ${String(gauges.multus_informer_cached_pods)}, nads ${String(gauges.multus_informer_cached_nads)}`;
        return have === want();
      };
      await pollUntil(check, { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error(`the informer caches hold ${have}, the API server ${want()}`) });
    },
    async stop() {
      await daemon.stop();
      await api.close();
    },
  };
}
