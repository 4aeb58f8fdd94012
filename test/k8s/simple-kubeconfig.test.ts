import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSimpleKubeconfig } from '../../src/k8s/simple-kubeconfig.js';

const dir = mkdtempSync('/tmp/multus-kubeconfig-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, text?: string): string {
  const path = join(dir, `kc-${n++}`);
  const config = { apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster }, { name: 'other', cluster: { server: 'https://wrong:1' } }], users: [{ name: 'u', user }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' };
  writeFileSync(path, text ?? JSON.stringify(config));
  return path;
}

describe('the thin plugin\'s kubeconfig reader', () => {
  it('reads the thin entrypoint\'s kind: server, inline CA, token, from the current context', () => {
    const creds = readSimpleKubeconfig(kubeconfig({ server: 'https://10.96.0.1:443', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') }, { token: 'abc' }));
    expect(creds).toEqual({ server: new URL('https://10.96.0.1:443'), ca: Buffer.from('CA PEM'), token: 'abc', insecure: false });
  });

  it('reads files relative to the kubeconfig: a token file, a client certificate and key, a CA', () => {
    for (const [name, text] of [['token', 'from-file\n'], ['client.crt', 'CERT'], ['client.key', 'KEY'], ['ca.crt', 'CA']]) writeFileSync(join(dir, name as string), text as string);
    const creds = readSimpleKubeconfig(kubeconfig({ server: 'https://api:6443', 'certificate-authority': 'ca.crt' }, { tokenFile: 'token', 'client-certificate': join(dir, 'client.crt'), 'client-key': 'client.key' }));
    expect(creds).toEqual({ server: new URL('https://api:6443'), ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY'), token: 'from-file', insecure: false });
  });

  it('keeps insecure-skip-tls-verify', () => {
    expect(readSimpleKubeconfig(kubeconfig({ server: 'https://api:6443', 'insecure-skip-tls-verify': true }, { token: 't' }))).toMatchObject({ insecure: true });
  });

  it.each([
    ['YAML', {}, {}, 'apiVersion: v1\nkind: Config\n'],
    ['an exec plugin', {}, { exec: { command: 'aws' } }],
    ['an auth provider', {}, { 'auth-provider': { name: 'oidc' } }],
    ['basic auth', {}, { username: 'a', password: 'b' }],
    ['impersonation', {}, { as: 'someone' }],
    ['a proxy', { 'proxy-url': 'http://proxy:3128' }, { token: 't' }],
    ['a TLS server name', { 'tls-server-name': 'api' }, { token: 't' }],
  ])('leaves %s to client-node (undefined)', (_what, cluster, user, text?: string) => {
    expect(readSimpleKubeconfig(kubeconfig({ server: 'https://api:6443', ...cluster }, user, text))).toBeUndefined();
  });

  it('throws for a kubeconfig that cannot be read', () => {
    expect(() => readSimpleKubeconfig(join(dir, 'absent'))).toThrow(/ENOENT/);
  });
});
