import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

describe('NetworkAttachmentDefinition CRD manifest', () => {
  it('matches the multi-net spec definition (MN-2)', () => {
    const crd = parse(readFileSync(`${ROOT}deployments/network-attachment-definition-crd.yml`, 'utf8')) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: { group: string; scope: string; names: Record<string, unknown>; versions: Array<Record<string, unknown> & { schema: { openAPIV3Schema: { properties: { spec: { properties: { config: { type: string } } } } } } }> };
    };
    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'network-attachment-definitions.k8s.cni.cncf.io' } });
    expect(crd.spec).toMatchObject({ group: 'k8s.cni.cncf.io', scope: 'Namespaced' });
    expect(crd.spec.names).toMatchObject({ plural: 'network-attachment-definitions', singular: 'network-attachment-definition', kind: 'NetworkAttachmentDefinition' });
    expect(crd.spec.names.shortNames).toContain('net-attach-def');
    expect(crd.spec.versions).toHaveLength(1);
    expect(crd.spec.versions[0]).toMatchObject({ name: 'v1', served: true, storage: true });
    expect(crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec.properties.config.type).toBe('string');
  });
});
