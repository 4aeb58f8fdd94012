/**
 * A certificate authority for tests, in process: it issues the fake API server's serving
 * certificate and signs CertificateSigningRequests the way kube-controller-manager's
 * kube-apiserver-client signer does (the CSR's subject and key; validity from
 * `spec.expirationSeconds`, to the second, which the openssl 3.0 CLI cannot do). Certificates
 * are built with the daemon's own DER encoder and signed by node:crypto; a small DER reader
 * takes the CSR apart.
 */
import { X509Certificate, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { bitString, contextTag, integer, oid, sequence, set, tlv, toPem, utf8String } from '../../src/util/der.js';

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OCTET_STRING = 0x04;
const BOOLEAN_TRUE = tlv(0x01, Buffer.from([0xff]));

/** One DER element: its tag, and where its content and the whole element lie in the buffer. */
interface Element {
  tag: number;
  contentStart: number;
  end: number;
  start: number;
}

function element(der: Buffer, start: number): Element {
  const tag = der[start] ?? 0;
  let length = der[start + 1] ?? 0;
  let contentStart = start + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[start + 2 + i] ?? 0);
    contentStart += n;
  }
  return { tag, contentStart, end: contentStart + length, start };
}

/** The elements directly inside a constructed element. */
function children(der: Buffer, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.contentStart; at < parent.end; at = out[out.length - 1]?.end ?? parent.end) out.push(element(der, at));
  return out;
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** The subject (DER Name) and public key (DER SubjectPublicKeyInfo) of a CSR; throws if its self-signature is wrong. */
export function parseCsr(csrPem: string): { subject: Buffer; spki: Buffer } {
  const der = pemBody(csrPem);
  const [info, , signature] = children(der, element(der, 0));
  if (info === undefined || signature === undefined) throw new Error('not a PKCS#10 request');
  const [, subject, spki] = children(der, info);
  if (subject === undefined || spki === undefined) throw new Error('not a PKCS#10 request');
  const key = createPublicKey({ key: der.subarray(spki.start, spki.end), format: 'der', type: 'spki' });
  // The BIT STRING's first content byte counts unused bits; the signature follows it.
  if (!verify('sha256', der.subarray(info.start, info.end), key, der.subarray(signature.contentStart + 1, signature.end))) {
    throw new Error('CSR signature does not verify');
  }
  return { subject: der.subarray(subject.start, subject.end), spki: der.subarray(spki.start, spki.end) };
}

/** UTCTime (RFC 5280 uses it through 2049): YYMMDDHHMMSSZ. */
function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  return tlv(0x17, Buffer.from(`${text}Z`, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [BOOLEAN_TRUE] : []), tlv(OCTET_STRING, value));
}

function commonNameDn(cn: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), utf8String(cn))));
}

/** Extensions of the certificates a CA issues, by role. */
const EXTENSIONS = {
  /** basicConstraints CA:TRUE; keyUsage keyCertSign + cRLSign. */
  ca: [extension('2.5.29.19', true, sequence(BOOLEAN_TRUE)), extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x01, 0x06])))],
  /** keyUsage digitalSignature; extKeyUsage clientAuth: what the "digital signature" and "client auth" usages ask for. */
  client: [extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x07, 0x80]))), extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.2')))],
  /** subjectAltName IP 127.0.0.1; extKeyUsage serverAuth. */
  server: [extension('2.5.29.17', false, sequence(tlv(0x87, Buffer.from([127, 0, 0, 1])))), extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1')))],
};

/** An in-process CA: `certPem` is the trust anchor to give clients and the API server. */
export class TestCa {
  readonly certPem: string;
  readonly #key: KeyObject;
  readonly #name: Buffer;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#key = privateKey;
    this.#name = commonNameDn('multus-test-ca');
    const now = Date.now();
    this.certPem = this.#issue(this.#name, publicKey.export({ type: 'spki', format: 'der' }), new Date(now - 60_000), new Date(now + 86_400_000), EXTENSIONS.ca);
  }

  #issue(subject: Buffer, spki: Buffer, notBefore: Date, notAfter: Date, extensions: Buffer[]): string {
    const algorithm = sequence(oid(ECDSA_SHA256));
    const tbs = sequence(
      contextTag(0, integer(2n)), // v3
      integer(BigInt(`0x${randomBytes(16).toString('hex')}`)),
      algorithm,
      this.#name,
      sequence(utcTime(notBefore), utcTime(notAfter)),
      subject,
      spki,
      contextTag(3, sequence(...extensions)),
    );
    return toPem('CERTIFICATE', sequence(tbs, algorithm, bitString(sign('sha256', tbs, this.#key))));
  }

  /** A serving certificate and key for 127.0.0.1. */
  serverCertificate(): { certPem: string; keyPem: string } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = Date.now();
    const certPem = this.#issue(commonNameDn('fake-apiserver'), publicKey.export({ type: 'spki', format: 'der' }), new Date(now - 60_000), new Date(now + 86_400_000), EXTENSIONS.server);
    return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) };
  }

  /** A client certificate for a CSR's subject and key, valid from now (to the second) for `seconds`. */
  signCsr(csrPem: string, seconds: number): string {
    const { subject, spki } = parseCsr(csrPem);
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    return this.#issue(subject, spki, notBefore, new Date(notBefore.getTime() + seconds * 1000), EXTENSIONS.client);
  }

  /** Whether `certPem` was issued by this CA. */
  issued(certPem: string): boolean {
    return new X509Certificate(certPem).verify(new X509Certificate(this.certPem).publicKey);
  }
}
