import { spawn } from 'node:child_process';
import { SHIM } from './paths.js';

/** How one shim call ended, as a runtime sees it. */
export interface ShimOutcome {
  code: number;
  stdout: string;
  /** stdout parsed as JSON, when it is. */
  json: Record<string, unknown> | undefined;
  /** What it wrote to stderr (runtimes log it for every call). */
  stderr: string;
  wallMs: number;
}

/** The CNI parameters of one call. */
export interface CniCall {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS as a string (the test chooses the pair order). */
  args?: string;
  stdin: string | Record<string, unknown>;
  /** Extra environment (e.g. the shim's timeouts). */
  env?: Record<string, string>;
}

/** Pod CNI_ARGS in containerd's style; `order` rotates the pairs, as real runtimes do. */
export function podArgs(namespace: string, name: string, uid = '', order = 0): string {
  const pairs = ['IgnoreUnknown=1', `K8S_POD_NAMESPACE=${namespace}`, `K8S_POD_NAME=${name}`, `K8S_POD_INFRA_CONTAINER_ID=${name}-infra`, `K8S_POD_UID=${uid}`];
  const k = order % pairs.length;
  return [...pairs.slice(k), ...pairs.slice(0, k)].join(';');
}

/**
 * Execute the built shim (or another CNI executable, e.g. the thin plugin) exactly as a container
 * runtime does: a clean env and the config on stdin.
 */
export function runShim(call: CniCall, executable = SHIM): Promise<ShimOutcome> {
  const env: Record<string, string> = {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? '',
    CNI_NETNS: call.netns ?? '',
    CNI_IFNAME: call.ifname ?? 'eth0',
    CNI_ARGS: call.args ?? '',
    CNI_PATH: '/opt/cni/bin',
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    ...call.env,
  };
  const stdin = typeof call.stdin === 'string' ? call.stdin : JSON.stringify(call.stdin);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, json, stderr: Buffer.concat(err).toString('utf8'), wallMs: performance.now() - started });
    });
    child.stdin.end(stdin);
  });
}
