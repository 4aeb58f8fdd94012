import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseThinFlags } from '../../src/supervisor/thin-flags.js';
import { DAEMON } from '../helpers/paths.js';
import { until } from '../helpers/wait.js';

/** Upstream's thin_entrypoint flags, so upstream's thin manifest runs with our image. */
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('thin entrypoint flags', () => {
  it('map onto daemon-config keys, in both --name=value and --name value forms', () => {
    expect(parseThinFlags(['--multus-conf-file=auto', '--multus-autoconfig-dir', '/host/etc/cni/net.d', '--cni-conf-dir=/host/etc/cni/net.d', '--cni-version=0.3.1', '--multus-log-level=verbose', '--multus-kubeconfig-file-host=/etc/k.conf', '--global-namespaces=a,b'])).toEqual({
      multusConfigFile: 'auto',
      multusAutoconfigDir: '/host/etc/cni/net.d',
      cniConfigDir: '/host/etc/cni/net.d',
      cniVersion: '0.3.1',
      logLevel: 'verbose',
      multusKubeconfigFileHost: '/etc/k.conf',
      globalNamespaces: 'a,b',
    });
  });

  it('takes booleans bare or as =true/=false, and refuses anything else', () => {
    expect(parseThinFlags(['--namespace-isolation', '--multus-log-to-stderr=false', '--cleanup-config-on-exit=true'])).toEqual({ namespaceIsolation: true, logToStderr: false, cleanupConfigOnExit: true });
    expect(() => parseThinFlags(['--override-network-name=yes'])).toThrow(/--override-network-name takes true or false, got "yes"/);
  });

  it('accepts the binary-copy flags without effect (the init container installs), refuses unknown ones', () => {
    expect(parseThinFlags(['--skip-multus-binary-copy', '--cni-bin-dir=/host/opt/cni/bin', '--multus-bin-file', '/usr/src/multus-cni/bin/multus'])).toEqual({});
    expect(() => parseThinFlags(['--multus-conf'])).toThrow(/unknown thin entrypoint flag --multus-conf; known: --cni-conf-dir/);
    expect(() => parseThinFlags(['--cni-version'])).toThrow(/--cni-version needs a value/);
    expect(() => parseThinFlags(['auto'])).toThrow(/unexpected argument "auto"/);
  });

  it('drive `multus-daemon thin` as upstream\'s manifest does, over the values of a -config file', async () => {
    const root = mkdtempSync('/tmp/thin-flags-test-');
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const netd = join(root, 'net.d');
    mkdirSync(netd);
    writeFileSync(join(netd, '10-bridge.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'br', type: 'bridge' }));
    const ready = join(root, 'ready');
    writeFileSync(ready, '');
    const config = join(root, 'config.json');
    writeFileSync(config, JSON.stringify({ kubeconfig: '/etc/cni/net.d/multus.d/given.kubeconfig', logLevel: 'error' }));
    const child = spawn(process.execPath, [DAEMON, 'thin', '-config', config, '--multus-conf-file=auto', `--multus-autoconfig-dir=${netd}`, '--cni-conf-dir', netd, '--namespace-isolation', '--multus-log-level=debug', `--readiness-indicator-file=${ready}`], { stdio: 'ignore' });
    cleanups.push(() => void child.kill('SIGKILL'));
    const conf = join(netd, '00-multus.conf');
    await until(() => existsSync(conf), '00-multus.conf');
    expect(JSON.parse(readFileSync(conf, 'utf8'))).toMatchObject({
      type: 'multus',
      cniVersion: '0.3.1',
      kubeconfig: '/etc/cni/net.d/multus.d/given.kubeconfig',
      namespaceIsolation: true,
      logLevel: 'debug',
      readinessindicatorfile: ready,
      delegates: [{ name: 'br', type: 'bridge' }],
    });
  });
});
