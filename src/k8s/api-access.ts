/**
 * Every Kubernetes API access the daemon makes (kube-service.ts): the ClusterRole in
 * deployments/ must grant exactly these, and the tests check both directions (the manifest
 * against this list, and every request the daemon sent to the test API server against it).
 */
export const API_ACCESS = [
  { apiGroup: '', resource: 'pods', verbs: ['get', 'list', 'watch'] },
  { apiGroup: '', resource: 'pods/status', verbs: ['patch'] },
  { apiGroup: '', resource: 'events', verbs: ['create'] },
  { apiGroup: 'k8s.cni.cncf.io', resource: 'network-attachment-definitions', verbs: ['get', 'list', 'watch'] },
  // DRA (device IDs of a pod's claims), read only for pods that have ResourceClaims.
  { apiGroup: 'resource.k8s.io', resource: 'resourceclaims', verbs: ['get'] },
  { apiGroup: 'resource.k8s.io', resource: 'resourceslices', verbs: ['list'] },
] as const;

/**
 * Every access the perNodeCertificate bootstrap identity makes (node-certificate.ts): submit a
 * CertificateSigningRequest and read it until it is issued. The integration test checks the
 * requests it sent against this list; deployments/ documents it next to the ConfigMap.
 */
export const BOOTSTRAP_API_ACCESS = [{ apiGroup: 'certificates.k8s.io', resource: 'certificatesigningrequests', verbs: ['create', 'get'] }] as const;
