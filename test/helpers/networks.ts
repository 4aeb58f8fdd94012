import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestHost } from './host.js';

/** The 00-multus.conf a runtime would send, pointing at the daemon's socket and a cluster network. */
export function multusStdin(socketDir: string, clusterNetwork: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus-shim', daemonSocketDir: socketDir, clusterNetwork, ...extra };
}

/** A bridge + host-local plugin config on a run-unique bridge in 198.18.<octet>.0/24. */
export function bridgePlugin(host: TestHost, octet: number): { plugin: Record<string, unknown>; bridge: string; ipamDir: string } {
  const bridge = host.link(host.name('br'));
  const ipamDir = join(host.dir, `ipam-${octet}`);
  return {
    bridge,
    ipamDir,
    plugin: { type: 'bridge', bridge, isGateway: true, ipam: { type: 'host-local', subnet: `198.18.${octet}.0/24`, dataDir: ipamDir } },
  };
}

/** The IPs host-local has reserved in an IPAM data dir (one file per address); [] when it has none. */
export function reservations(ipamDir: string): string[] {
  return existsSync(ipamDir) ? readdirSync(ipamDir, { recursive: true }).map(String).filter((f) => /\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}
