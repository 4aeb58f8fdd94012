import { describe, expect, it } from 'vitest';
import { parseCniArgs } from '../../src/cni/args.js';
import { decodeCniRequest } from '../../src/server/request.js';

function body(env: Record<string, string>, stdin: unknown): Buffer {
  const config = Buffer.from(typeof stdin === 'string' ? stdin : JSON.stringify(stdin)).toString('base64');
  return Buffer.from(JSON.stringify({ env, config }));
}

const podEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: 'K8S_POD_UID=u;K8S_POD_NAME=p;IgnoreUnknown=1;K8S_POD_NAMESPACE=n' };

describe('CNI_ARGS', () => {
  it('is parsed in any pair order', () => {
    const a = parseCniArgs('K8S_POD_NAME=p;K8S_POD_NAMESPACE=n');
    const b = parseCniArgs('K8S_POD_NAMESPACE=n;K8S_POD_NAME=p;');
    expect([...a].sort()).toEqual([...b].sort());
  });
  it.each(['novalue', '=x', 'a=b=c'])('refuses %s with code 4', (raw) => {
    expect(() => parseCniArgs(raw)).toThrow(expect.objectContaining({ code: 4 }) as Error);
  });
});

describe('request decoding (upstream wire format)', () => {
  it('decodes env, base64 stdin and the pod', () => {
    const req = decodeCniRequest(body(podEnv, { cniVersion: '0.4.0', clusterNetwork: 'x' }), {});
    expect(req).toMatchObject({ command: 'ADD', containerId: 'abc', ifname: 'eth0', pod: { namespace: 'n', name: 'p', uid: 'u' } });
    expect(req.conf.cniVersion).toBe('0.4.0');
  });
  it('lets DEL go without a netns, and STATUS/GC without any pod context', () => {
    expect(decodeCniRequest(body({ ...podEnv, CNI_COMMAND: 'DEL', CNI_NETNS: '' }, { cniVersion: '1.0.0' }), {}).netns).toBe('');
    expect(decodeCniRequest(body({ CNI_COMMAND: 'STATUS' }, { cniVersion: '1.1.0' }), {}).pod).toBeUndefined();
  });
  it.each([
    ['a body that is not JSON (CNI-24)', Buffer.from('{nope'), 6],
    ['a stdin that is not JSON', body(podEnv, '{"cniVersion":'), 6],
    ['config that is not base64', Buffer.from(JSON.stringify({ env: podEnv, config: '!!' })), 6],
    ['a missing CNI_COMMAND', body({ ...podEnv, CNI_COMMAND: '' }, {}), 4],
    ['an unknown CNI_COMMAND', body({ ...podEnv, CNI_COMMAND: 'FOO' }, {}), 4],
    ['ADD without CNI_NETNS', body({ ...podEnv, CNI_NETNS: '' }, {}), 4],
    ['an ifname with a slash (LIB-5)', body({ ...podEnv, CNI_IFNAME: 'a/b' }, {}), 4],
    ['an ifname of 16 characters (LIB-5)', body({ ...podEnv, CNI_IFNAME: 'abcdefghijklmnop' }, {}), 4],
    ['a container id with a path', body({ ...podEnv, CNI_CONTAINERID: '../x' }, {}), 4],
    ['an unsupported cniVersion', body(podEnv, { cniVersion: '2.0.0' }), 1],
    ['a clusterNetwork that is not a string', body(podEnv, { cniVersion: '1.0.0', clusterNetwork: 3 }), 7],
  ])('refuses %s with code %s', (_what, input, code) => {
    expect(() => decodeCniRequest(input, {})).toThrow(expect.objectContaining({ code }) as Error);
  });
});
