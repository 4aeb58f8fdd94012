/**
 * The per-node identity's key and PKCS#10 certificate signing request (RFC 2986), and the
 * certificates.k8s.io/v1 object that carries it: what client-go's certificate manager submits
 * for upstream's `perNodeCertificate` (§5.4 of the upstream notes).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import type { V1CertificateSigningRequest } from '@kubernetes/client-node';
import { bitString, contextTag, integer, oid, sequence, set, toPem, utf8String } from '../util/der.js';

/** The signer whose certificates the API server accepts as client credentials. */
export const CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
/** The group of every multus node identity. */
export const MULTUS_GROUP = 'system:multus';

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

/** `system:multus:<node>`: the user name the API server derives from the certificate's CN. */
export function nodeIdentity(nodeName: string): string {
  return `${MULTUS_GROUP}:${nodeName}`;
}

/** A fresh key and a CSR for it, both PEM. */
export interface CsrKeyPair {
  keyPem: string;
  csrPem: string;
}

/**
 * A new ECDSA P-256 key (what client-go's manager generates) and a CSR for subject
 * `O=system:multus, CN=system:multus:<node>` (Go's pkix.Name order: O before CN), signed with it.
 */
export function createCsr(nodeName: string): CsrKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const attribute = (type: string, value: string): Buffer => set(sequence(oid(type), utf8String(value)));
  const subject = sequence(attribute(OID.organization, MULTUS_GROUP), attribute(OID.commonName, nodeIdentity(nodeName)));
  const info = sequence(
    integer(0n), // version 1
    subject,
    publicKey.export({ type: 'spki', format: 'der' }), // SubjectPublicKeyInfo, already DER
    contextTag(0), // attributes [0] IMPLICIT SET OF: required, empty
  );
  // node:crypto's ECDSA signature is already the DER SEQUENCE{r, s} that X.509 expects.
  const signature = sign('sha256', info, privateKey);
  const csr = sequence(info, sequence(oid(OID.ecdsaWithSha256)), bitString(signature));
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }), csrPem: toPem('CERTIFICATE REQUEST', csr) };
}

/**
 * The CertificateSigningRequest object for `csrPem`: client usages only, for the API server
 * client signer, lasting `expirationSeconds`. The API server names it (generateName).
 */
export function csrObject(nodeName: string, csrPem: string, expirationSeconds: number): V1CertificateSigningRequest {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: `multus-${nodeName}-` },
    spec: {
      request: Buffer.from(csrPem).toString('base64'),
      signerName: CLIENT_SIGNER,
      usages: ['digital signature', 'client auth'],
      expirationSeconds,
    },
  };
}
