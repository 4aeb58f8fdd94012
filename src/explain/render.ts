import type { AttachedNow } from './attached.js';
import type { Finding } from './rules.js';
import type { DefaultRouteOwner, ExplainReport, ExplainedAttachment } from './explain.js';

/** The human form of an explain report: attachments in execution order, then what would fail. */

const VERDICT = { ok: 'the ADD would succeed', fail: 'the ADD would FAIL', unknown: 'cannot tell: an API the ADD needs did not answer' } as const;

function attachmentLines(a: ExplainedAttachment, i: number, binDirs: readonly string[]): string[] {
  const role = a.master ? ' (cluster network)' : a.auxiliary ? ' (auxiliary chain, no interface)' : '';
  const lines = [`${i}. ${a.ifname}  ${a.network}${role}`, `   from      ${a.source}`];
  const width = Math.max(...a.plugins.map((p) => p.type.length));
  a.plugins.forEach((p, k) => {
    const where = p.binary ?? `MISSING (not in ${binDirs.join(':')})`;
    lines.push(`   ${k === 0 ? 'plugins ' : '        '}  ${p.type.padEnd(width)}  ${where}`);
  });
  for (const p of a.plugins) {
    if (p.runtimeConfig !== undefined) lines.push(`   runtimeConfig  ${p.type}: ${JSON.stringify(p.runtimeConfig)}`);
    if (p.cniArgs !== undefined) lines.push(`   cni-args  ${p.type}: ${JSON.stringify(p.cniArgs)}`);
  }
  // Requested values no plugin takes never reach the chain (the master's runtimeConfig is the runtime's).
  const offered = Object.keys(a.capabilityArgs).filter((k) => !a.plugins.some((p) => p.runtimeConfig?.[k] !== undefined));
  if (offered.length > 0) lines.push(`   not passed  ${offered.join(', ')} (no plugin declares the capability)`);
  if (a.resourceName !== undefined) lines.push(`   device    ${a.resourceName}: ${typeof a.capabilityArgs.deviceID === 'string' ? a.capabilityArgs.deviceID : 'none assigned'}`);
  lines.push(`   CNI_ARGS  ${a.cniArgs}`);
  return lines;
}

function routeLine(r: DefaultRouteOwner): string {
  const family = r.family === 4 ? 'IPv4' : 'IPv6';
  return r.gateway === undefined ? `   ${family}: ${r.ifname}, if its plugins return one (no default-route requested)` : `   ${family}: ${r.ifname} via ${r.gateway} (default-route requested)`;
}

function findingLines(f: Finding): string[] {
  return [`  [${f.rule}]${f.code === 0 ? '' : ` CNI error ${f.code}`}: ${f.message}`, `    fix: ${f.fix}`];
}

/** What the pod's sandboxes on this node have now, its network-status, and the drift. */
function attachedLines(now: AttachedNow): string[] {
  if (now.sandboxes.length === 0) return ['attached now: no sandbox of this pod on this node'];
  const lines = ['attached now on this node:'];
  for (const s of now.sandboxes) {
    lines.push(`  sandbox ${s.containerId.slice(0, 12)}  netns ${s.netns === '' ? '(none)' : s.netns}`);
    for (const n of s.networks) {
      const state = n.started ? (n.deleteAttempts > 0 ? `DEL failed ${n.deleteAttempts}x` : 'attached') : 'not started / deleted';
      lines.push(`    ${(n.ifname ?? '-').padEnd(6)} ${n.network}  ${state}${n.ips.length > 0 ? `  ${n.ips.join(', ')}` : ''}`);
    }
  }
  lines.push(`  network-status: ${now.networkStatus === null ? '(none)' : JSON.stringify(now.networkStatus)}`);
  if (now.drift.length > 0) lines.push('', 'drift from the plan:', ...now.drift.flatMap(findingLines));
  return lines;
}

export function renderReport(r: ExplainReport): string {
  const lines = [
    `pod ${r.pod.namespace}/${r.pod.name}${r.pod.uid === '' ? '' : ` (uid ${r.pod.uid})`}, ${r.pod.from === 'cluster' ? 'read from the cluster' : 'from a manifest'}: ${VERDICT[r.verdict]}`,
    `node: multus config ${r.config.multusConf ?? '(none: the daemon config alone)'}; confDir ${r.config.confDir}; bin dirs ${r.config.binDirs.join(':')}${r.config.kubernetes ? '' : '; no Kubernetes access'}`,
  ];
  if (r.attachments.length > 0) {
    lines.push('', 'attachments, in execution order:');
    r.attachments.forEach((a, i) => lines.push(...attachmentLines(a, i, r.config.binDirs)));
    lines.push('default route:', ...r.defaultRoute.map(routeLine));
  }
  if (r.errors.length > 0) lines.push('', `errors (the ADD stops at the first${r.attachments.length === 0 ? ', while planning: nothing would run' : ''}):`, ...r.errors.flatMap(findingLines));
  if (r.warnings.length > 0) lines.push('', 'warnings:', ...r.warnings.flatMap(findingLines));
  if (r.attached !== undefined) lines.push('', ...attachedLines(r.attached));
  return `${lines.join('\n')}\n`;
}
