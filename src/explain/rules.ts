import { CNI_ERR, type CniError } from '../errors.js';
import type { KubeReader } from '../k8s/protocol.js';

/**
 * What a planning error means for the person reading `explain`: the rule it broke and how to
 * fix it. The errors themselves come from the ADD's own code (planner, device IDs, checks,
 * plugin lookup); this table only recognises their messages, so test/integration/explain.test.ts
 * has one case per rule to catch a message that changed.
 */

/** One problem the ADD would hit (an error) or that may be a mistake (a warning). */
export interface Finding {
  /** Stable id, for scripts: see the README's "Explain". */
  rule: string;
  /** The CNI error code the ADD would answer (0 for a warning). */
  code: number;
  /** The ADD's own message. */
  message: string;
  /** What to change. */
  fix: string;
}

interface Rule {
  rule: string;
  match: RegExp;
  fix: (m: RegExpMatchArray) => string;
}

const RULES: readonly Rule[] = [
  {
    rule: 'nad-not-found',
    match: /cannot find a network-attachment-definition \((.+?)\) in namespace \((.+?)\)/,
    fix: (m) => `create network-attachment-definition ${m[2] ?? ''}/${m[1] ?? ''}, or name the namespace that holds it in the annotation ("<namespace>/${m[1] ?? ''}")`,
  },
  {
    rule: 'network-not-found',
    match: /^network "(.+?)" not found/,
    fix: (m) => `create a network-attachment-definition "${m[1] ?? ''}" (in multusNamespace for defaultNetworks and default-network values without a namespace), or a config of that name in confDir`,
  },
  { rule: 'conf-dir-unreadable', match: /^cannot list config directory (\S+):/, fix: (m) => `create ${m[1] ?? 'confDir'} or set confDir in the daemon config to the directory holding the network configs` },
  { rule: 'namespace-isolation', match: /^namespace isolation:/, fix: () => 'use a network-attachment-definition in the pod\'s own namespace, or add its namespace to globalNamespaces in the daemon config' },
  { rule: 'annotation-invalid', match: /^invalid (\S+) annotation/, fix: (m) => `correct the ${m[1] ?? ''} annotation: a comma list "[<namespace>/]<name>[@<interface>]" or a JSON list of objects with "name" (multi-net spec)` },
  { rule: 'default-network-multiple', match: /^more than one default network/, fix: () => 'name exactly one network in v1.multus-cni.io/default-network' },
  { rule: 'default-route-ecmp', match: /does not support ECMP for default-route/, fix: () => 'request "default-route" with at most one IPv4 and one IPv6 gateway across all the pod\'s networks' },
  {
    rule: 'capability-not-declared',
    match: /cannot honour the requested "(\w+)"/,
    fix: (m) => `add "capabilities": {"${m[1] ?? ''}": true} to a plugin of that network that supports it, or drop "${m[1] ?? ''}" from the pod's request`,
  },
  { rule: 'interface-name-clash', match: /^interface name (\S+) is requested by both/, fix: (m) => `give one of them another "interface": ${m[1] ?? ''} is taken (a name not requested is the runtime's, eth0, for the cluster network and net<index> for the others)` },
  { rule: 'device-not-assigned', match: /^failed to get deviceID/, fix: () => 'request one device of the NAD\'s resourceName per attachment in the pod\'s container resources (or a ResourceClaim), and check the device plugin advertises it on this node' },
  { rule: 'cluster-network', match: /clusterNetwork|neither "clusterNetwork" nor "delegates"/, fix: () => 'fix clusterNetwork in the daemon config (or 00-multus.conf): a config file, a directory, a config name in confDir or a NAD in multusNamespace' },
  { rule: 'network-config-invalid', match: /spec\.config|invalid network config|has no spec\.config|CNI version/, fix: () => 'fix the network\'s CNI config (JSON, a "type" per plugin, a supported cniVersion)' },
  { rule: 'plugin-type-refused', match: /^invalid plugin type/, fix: () => 'a plugin "type" must be a bare file name in the CNI bin dirs, without a path' },
  { rule: 'plugin-not-found', match: /^failed to find plugin "(.+?)"/, fix: (m) => `install the "${m[1] ?? ''}" binary into one of the CNI bin dirs on this node (binDir in the daemon config, then CNI_PATH), or correct the "type"` },
];

/** The rule an error of the ADD's breaks; unknown messages keep their code and a generic fix. */
export function findingOf(err: CniError): Finding {
  const base = { code: err.code, message: err.details === undefined ? err.message : `${err.message} (${err.details})` };
  if (err.code === CNI_ERR.TRY_AGAIN_LATER) return { ...base, rule: 'api-unavailable', fix: 'the API server (or kubelet) did not answer: the ADD would fail with "try again later"; run explain again' };
  for (const { rule, match, fix } of RULES) {
    const m = err.message.match(match);
    if (m !== null) return { ...base, rule, fix: fix(m) };
  }
  return { ...base, rule: 'planning', fix: 'see the message' };
}

/** A missing NAD's hint: the namespaces where one of that name exists (cheap: the NAD cache, or one list). */
export async function withHint(finding: Finding, kube: KubeReader | undefined): Promise<Finding> {
  const m = finding.rule === 'nad-not-found' ? finding.message.match(RULES[0]?.match ?? /$^/) : null;
  if (m === null || kube === undefined) return finding;
  const found = await kube.nadNamespaces(m[1] ?? '');
  if (found.kind !== 'found' || found.namespaces.length === 0) return finding;
  return { ...finding, fix: `${finding.fix}; network-attachment-definitions named "${m[1] ?? ''}" exist in: ${found.namespaces.join(', ')}` };
}

/** Annotation keys one or two edits away from the ones Multus reads (a typo is silently ignored by the ADD). */
export function annotationTypos(annotations: Readonly<Record<string, string>>, known: readonly string[]): Finding[] {
  return Object.keys(annotations).flatMap((key) => {
    const near = known.find((k) => k !== key && distance(k, key) <= 2);
    return near === undefined || known.includes(key)
      ? []
      : [{ rule: 'annotation-key-typo', code: 0, message: `pod annotation "${key}" is not read by Multus`, fix: `did you mean "${near}"?` }];
  });
}

/** Levenshtein distance (short strings: annotation keys). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
