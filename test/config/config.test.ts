import { describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import { parseTunables } from '../../src/config/env.js';
import { mergeDaemonConfig, readMultusConf } from '../../src/config/multus-conf.js';

describe('tunables from the environment', () => {
  it('has defaults', () => {
    expect(parseTunables({})).toMatchObject({ tasksPerWorker: 16, poolMaxQueue: 1024, delegateTimeoutMs: 60_000, maxInflight: 1024, poolMinThreads: 1, optimizingJit: false });
    // Threads kept warm may not exceed the threads there are.
    expect(parseTunables({ MULTUS_WORKER_THREADS: '4', MULTUS_POOL_MIN_THREADS: '4' }).poolMinThreads).toBe(4);
    // Upstream's fixed paths for device IDs and device-info.
    expect(parseTunables({})).toMatchObject({
      podResourcesSocket: '/var/lib/kubelet/pod-resources/kubelet.sock',
      deviceCheckpointFile: '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint',
      deviceInfoDir: '/var/run/k8s.cni.cncf.io/devinfo',
    });
  });
  it.each([
    ['MULTUS_WORKER_THREADS', 'two'],
    ['MULTUS_WORKER_THREADS', '0'],
    ['MULTUS_POOL_MIN_THREADS', '3'],
    ['MULTUS_DELEGATE_TIMEOUT_MS', '-5'],
    ['MULTUS_MAX_INFLIGHT', '1.5'],
    ['MULTUS_OPTIMIZING_JIT', 'true'],
    ['MULTUS_POD_RESOURCES_SOCKET', 'kubelet.sock'],
    ['MULTUS_DEVICE_INFO_DIR', 'devinfo'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => parseTunables({ [name]: value })).toThrow(name);
  });
});

describe('daemon config', () => {
  it('applies upstream defaults and keeps unknown keys', () => {
    const conf = parseDaemonConfig({ chrootDir: '/hostroot', somethingNew: 1 }, 'test.json');
    expect(conf.socketDir).toBe('/run/multus/');
    expect(conf.raw.somethingNew).toBe(1);
  });
  it('names the file and the key of a wrong type', () => {
    expect(() => parseDaemonConfig({ socketDir: 5 }, '/etc/x.json')).toThrow(/\/etc\/x\.json: "socketDir"/);
  });
  it('is merged over every request, top-level key by key (upstream §2.3c)', () => {
    const merged = readMultusConf(mergeDaemonConfig({ cniVersion: '0.3.1', confDir: '/from/stdin', clusterNetwork: 'a' }, { confDir: '/from/daemon', retryDeleteOnError: true }));
    expect(merged).toMatchObject({ cniVersion: '0.3.1', confDir: '/from/daemon', clusterNetwork: 'a', retryDeleteOnError: true, binDir: '/opt/cni/bin', cniDir: '/var/lib/cni/multus' });
  });
  it('deleteAttempts: 3 by default; anything but a whole number of at least 1 is refused, naming the key', () => {
    expect(readMultusConf({}).deleteAttempts).toBe(3);
    expect(readMultusConf({ deleteAttempts: 5 }).deleteAttempts).toBe(5);
    for (const bad of [0, -1, 1.5, '3', true]) expect(() => readMultusConf({ deleteAttempts: bad })).toThrow(/"deleteAttempts" must be a whole number of at least 1/);
  });
  it('forwards only the runtimeConfig keys upstream forwards', () => {
    const conf = readMultusConf({ runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 2 }], dns: { nameservers: ['x'] }, 'io.kubernetes.cri.pod-annotations': {} } });
    expect(Object.keys(conf.runtimeConfig)).toEqual(['portMappings']);
  });
});
