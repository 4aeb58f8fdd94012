/**
 * The per-node certificate on disk: `<certDir>/multus-client-current.pem`, holding the
 * certificate (PEM, possibly followed by intermediates) and its private key, as client-go's
 * file certificate store keeps it. Written atomically with mode 0600: a crash mid-rotation leaves
 * the previous pair, never a certificate without its key.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';

export const CURRENT_CERT_FILE = 'multus-client-current.pem';

/** A client certificate and its key, with the validity the rotation schedule needs. */
export interface ClientCertificate {
  /** The certificate chain, PEM (leaf first). */
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** The CN of an X509Certificate subject (Node prints one `KEY=value` per line). */
function commonName(cert: X509Certificate): string | undefined {
  return cert.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3);
}

/**
 * Pair a certificate chain with its key; throws when the PEM is not a certificate, the key does
 * not belong to it, or its CN is not `identity`.
 */
export function clientCertificate(certPem: string, keyPem: string, identity: string): ClientCertificate {
  const leaf = new X509Certificate(certPem);
  if (commonName(leaf) !== identity) throw new Error(`certificate is for ${JSON.stringify(commonName(leaf) ?? '')}, not ${JSON.stringify(identity)}`);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('certificate and private key do not match');
  return { certPem, keyPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
}

/**
 * The stored certificate if it is for `identity`, matches its key and is still valid at `now`;
 * undefined otherwise (missing, unreadable, expired or another identity: a new CSR follows).
 */
export async function readStoredCertificate(certDir: string, identity: string, now = new Date()): Promise<ClientCertificate | undefined> {
  let text: string;
  try {
    text = await readFile(join(certDir, CURRENT_CERT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const certPem = blocks.filter((b) => b[1] === 'CERTIFICATE').map((b) => b[0]).join('');
  const keyPem = blocks.find((b) => b[1]?.endsWith('PRIVATE KEY'))?.[0];
  if (certPem === '' || keyPem === undefined) return undefined;
  try {
    const cert = clientCertificate(certPem, keyPem, identity);
    return now < cert.notAfter && now >= cert.notBefore ? cert : undefined;
  } catch {
    return undefined;
  }
}

/** Replace the stored certificate and key in one atomic write. */
export async function storeCertificate(certDir: string, cert: ClientCertificate): Promise<void> {
  const ending = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);
  await writeFileAtomic(join(certDir, CURRENT_CERT_FILE), ending(cert.certPem) + ending(cert.keyPem), 0o600);
}
