import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tar } from './tar.js';

/** The pause program's source (test/e2e/fixtures/pause.c). */
export const PAUSE_SOURCE = fileURLToPath(new URL('./fixtures/pause.c', import.meta.url));

/** What was built: the OCI layout tarball to `ctr images import`, and the name it imports as. */
export interface PauseImage {
  tarball: string;
  /** Full image reference, also the CRI plugin's `sandbox_image`. */
  ref: string;
  /** Digest of the image manifest (`sha256:…`). */
  manifestDigest: string;
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

function blob(data: Buffer): Blob {
  return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, data };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** OCI's architecture name for this Node's `process.arch`. */
function ociArch(): string {
  const map: Partial<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

/**
 * Build the sandbox image without a registry: compile the pause program with `cc -static`, put it
 * in one uncompressed layer, and write an OCI image layout tarball (oci-layout, index.json,
 * blobs/sha256/…) whose index names the image `ref` through the `io.containerd.image.name`
 * annotation, which `ctr images import` uses as the image name. Deterministic: same binary, same
 * digests.
 */
export function buildPauseImage(dir: string, ref: string): PauseImage {
  const binary = join(dir, 'pause');
  execFileSync('cc', ['-static', '-O2', '-s', '-o', binary, PAUSE_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  const layer = blob(tar([{ name: 'pause', data: readFileSync(binary), mode: 0o755 }]));
  const arch = ociArch();
  const config = blob(
    json({
      created: '1970-01-01T00:00:00Z',
      architecture: arch,
      os: 'linux',
      config: { Entrypoint: ['/pause'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [layer.digest] }, // uncompressed layer: diff id = digest
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'multus-ts test/e2e/pause-image.ts' }],
    }),
  );
  const manifest = blob(
    json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    }),
  );
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  const index = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifest.digest,
        size: manifest.size,
        platform: { architecture: arch, os: 'linux' },
        annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  });
  const blobs = [layer, config, manifest].map((b) => ({ name: `blobs/sha256/${b.digest.slice('sha256:'.length)}`, data: b.data }));
  const tarball = join(dir, 'pause-image.tar');
  writeFileSync(
    tarball,
    tar([
      { name: 'oci-layout', data: json({ imageLayoutVersion: '1.0.0' }) },
      { name: 'index.json', data: index },
      { name: 'blobs/' },
      { name: 'blobs/sha256/' },
      ...blobs,
    ]),
  );
  return { tarball, ref, manifestDigest: manifest.digest };
}
