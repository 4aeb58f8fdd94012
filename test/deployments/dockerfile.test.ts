import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

/** No container engine runs here: check the Dockerfile against what the manifest executes. */
describe('Dockerfile', () => {
  const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');

  it('builds the shim for each target architecture and ships it where the daemon and installer expect it', () => {
    expect(dockerfile).toMatch(/ARG TARGETARCH/);
    expect(dockerfile).toMatch(/amd64\)/);
    expect(dockerfile).toMatch(/arm64\)/);
    expect(dockerfile).toContain('COPY --from=shim /out/multus-shim ./dist/bin/multus-shim');
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
  });

  it('puts the daemon entry at the path the DaemonSet runs', () => {
    const docs = parseAllDocuments(readFileSync(`${ROOT}deployments/multus-daemonset-thick.yml`, 'utf8')).map((d) => d.toJS() as { kind?: string; spec?: { template: { spec: { containers: Array<{ command: string[] }>; initContainers: Array<{ command: string[] }> } } } });
    const pod = docs.find((d) => d.kind === 'DaemonSet')?.spec?.template.spec;
    const entries = [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])].map((c) => c.command[1]);
    expect(entries.length).toBe(2);
    expect(dockerfile).toContain('WORKDIR /usr/src/multus-ts');
    expect(dockerfile).toContain('COPY --from=build /src/dist ./dist');
    for (const entry of entries) expect(entry).toBe('/usr/src/multus-ts/dist/supervisor/main.js');
  });
});
