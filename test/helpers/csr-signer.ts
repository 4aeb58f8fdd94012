/**
 * The approver and signer a cluster runs for per-node certificates (upstream's cert-approver
 * plus kube-controller-manager's signer), as a test helper over the fake API server: it decides
 * every new CSR and, when it approves, issues a certificate from a TestCa for the CSR's
 * `spec.expirationSeconds`.
 */
import type { FakeApiServer, KubeObject } from '../apiserver/server.js';
import type { TestCa } from '../apiserver/test-ca.js';

/** What the signer does with a new CSR. */
export type CsrDecision = 'approve' | 'deny' | 'ignore';

interface CsrSpec {
  request: string;
  expirationSeconds?: number;
}

/** A running signer; `stop()` before closing the API server. */
export interface CsrSigner {
  /** The CSRs signed so far, oldest first. */
  signed: string[];
  stop(): void;
}

/** Check for new CSRs every 20 ms, and decide each once with `decide` (default: approve). */
export function startCsrSigner(api: FakeApiServer, ca: TestCa, decide: (csr: KubeObject) => CsrDecision = () => 'approve'): CsrSigner {
  const seen = new Set<string>();
  const signed: string[] = [];
  const timer = setInterval(() => {
    for (const csr of api.certificateSigningRequests()) {
      const name = csr.metadata.name;
      if (seen.has(name)) continue;
      seen.add(name);
      const decision = decide(csr);
      if (decision === 'deny') api.decideCsr(name, 'Denied', 'TestDenied', 'not a node of this cluster');
      if (decision !== 'approve') continue;
      const spec = csr.spec as CsrSpec;
      api.decideCsr(name, 'Approved', 'TestApproved', 'approved by the test signer');
      api.issueCsr(name, ca.signCsr(Buffer.from(spec.request, 'base64').toString('utf8'), spec.expirationSeconds ?? 3600));
      signed.push(name);
    }
  }, 20);
  return {
    signed,
    stop: () => clearInterval(timer),
  };
}
