/**
 * A kubeconfig pointing at the fake server, for in-process clients and for the daemon under
 * test (which only ever reaches the API through one).
 */
import { writeFileSync } from 'node:fs';

/** The bearer token the kubeconfig carries and the fake accepts. */
export const TEST_TOKEN = 'test-token';

/**
 * Write a kubeconfig (JSON, which is YAML) with one cluster, user and context, current-context
 * set. client-node 1.4.0 refuses plain http:// servers unless insecure-skip-tls-verify is set,
 * so it is, even though no TLS is involved. An https:// server is verified against `caPem`.
 */
export function writeKubeconfig(path: string, serverUrl: string, caPem?: string): void {
  const cluster = caPem === undefined ? { server: serverUrl, 'insecure-skip-tls-verify': true } : { server: serverUrl, 'certificate-authority-data': Buffer.from(caPem).toString('base64') };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster }],
    users: [{ name: 'fake', user: { token: TEST_TOKEN } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
    'current-context': 'fake',
    preferences: {},
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
