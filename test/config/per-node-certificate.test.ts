import { describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import { parseGoDuration } from '../../src/config/duration.js';
import { parseTunables } from '../../src/config/env.js';

const enabled = { enabled: true, bootstrapKubeconfig: '/etc/kubernetes/kubelet.conf', certDir: '/etc/cni/multus/certs' };

describe('Go durations', () => {
  it.each([
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['0', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseGoDuration(text, 'x')).toBe(ms);
  });
  it.each(['', '10', 'm', '10 m', '1d', '-5m', '10m5'])('refuses %j, naming the key', (text) => {
    expect(() => parseGoDuration(text, '"certDuration"')).toThrow(/"certDuration" must be a duration/);
  });
});

describe('perNodeCertificate in the daemon config', () => {
  it('is off when absent or not enabled', () => {
    expect(parseDaemonConfig({}, 'f').perNodeCertificate).toBeUndefined();
    expect(parseDaemonConfig({ perNodeCertificate: { ...enabled, enabled: false } }, 'f').perNodeCertificate).toBeUndefined();
  });
  it('defaults certDuration to 10m', () => {
    expect(parseDaemonConfig({ perNodeCertificate: enabled }, 'f').perNodeCertificate).toEqual({ bootstrapKubeconfig: enabled.bootstrapKubeconfig, certDir: enabled.certDir, certDurationSeconds: 600 });
  });
  it('reads certDuration as a Go duration', () => {
    expect(parseDaemonConfig({ perNodeCertificate: { ...enabled, certDuration: '1h30m' } }, 'f').perNodeCertificate?.certDurationSeconds).toBe(5400);
  });
  it.each([
    [{ perNodeCertificate: 'yes' }, /f: "perNodeCertificate" must be an object/],
    [{ perNodeCertificate: { ...enabled, enabled: 'true' } }, /"perNodeCertificate"\.enabled must be a boolean/],
    [{ perNodeCertificate: { ...enabled, certDir: 7 } }, /"perNodeCertificate"\.certDir must be a string/],
    [{ perNodeCertificate: { ...enabled, certDuration: 'ten minutes' } }, /"perNodeCertificate"\.certDuration must be a duration/],
    [{ perNodeCertificate: { ...enabled, certDuration: '500ms' } }, /"perNodeCertificate"\.certDuration must be at least 1s/],
    [{ perNodeCertificate: { enabled: true, certDir: '/c' } }, /"perNodeCertificate" is enabled but "bootstrapKubeconfig" is missing/],
    [{ perNodeCertificate: { enabled: true } }, /"perNodeCertificate" is enabled but "bootstrapKubeconfig" and "certDir" are missing/],
  ])('refuses %j, naming the key', (raw, message) => {
    expect(() => parseDaemonConfig(raw, 'f')).toThrow(message);
  });
  it('waits 2 minutes for a certificate unless MULTUS_CERT_WAIT_MS says otherwise', () => {
    expect(parseTunables({}).certWaitMs).toBe(120_000);
    expect(parseTunables({ MULTUS_CERT_WAIT_MS: '500' }).certWaitMs).toBe(500);
  });
});
