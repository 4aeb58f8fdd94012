import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_DAEMON_CONFIG_PATH, loadDaemonConfig } from '../config/daemon-config.js';
import { parseTunables } from '../config/env.js';
import type { KubeService } from '../k8s/kube-service.js';
import { kubeOptions } from '../k8s/kube-options.js';
import { podFromManifest, readManifest } from '../k8s/pod-manifest.js';
import { SOCKET_NAME } from '../server/socket-server.js';
import { ExplainUnavailable, exitCodeOf, explainPod, type ExplainReport, type ExplainTarget } from './explain.js';
import { renderReport } from './render.js';

/**
 * `multus-daemon explain [-config <file>] [-o text|json] (<namespace>/<name> | -f <pod.yaml|json>)
 * [-socket <dir>]`: in this process (the node's daemon config, Kubernetes read through the
 * daemon's credentials with live GETs, as the thin plugin does), or with `-socket` by the
 * running daemon (its caches, and the pod's live state beside the plan).
 * Exit codes: 0 the ADD would succeed, 1 it would fail, 2 explain could not run.
 */

export const EXPLAIN_USAGE = 'multus-daemon explain [-config <daemon-config.json>] [-o text|json] [-socket <dir>] (<namespace>/<name> | -f <pod.yaml|pod.json>)';

interface ExplainCli {
  configPath: string;
  output: 'text' | 'json';
  file: string | undefined;
  socketDir: string | undefined;
  pod: { namespace: string; name: string } | undefined;
}

function parseExplainCli(argv: readonly string[]): ExplainCli {
  const cli: ExplainCli = { configPath: DEFAULT_DAEMON_CONFIG_PATH, output: 'text', file: undefined, socketDir: undefined, pod: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('-') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string => {
      const v = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (v === undefined || v === '') throw new ExplainUnavailable(`${flag} needs a value; usage: ${EXPLAIN_USAGE}`, 'bad-input');
      return v;
    };
    if (flag === '-config' || flag === '--config') cli.configPath = value();
    else if (flag === '-f' || flag === '--filename') cli.file = value();
    else if (flag === '-socket' || flag === '--socket') cli.socketDir = value();
    else if (flag === '-o' || flag === '--output') {
      const o = value();
      if (o !== 'json' && o !== 'text') throw new ExplainUnavailable(`-o must be text or json, got ${JSON.stringify(o)}`, 'bad-input');
      cli.output = o;
    } else if (!arg.startsWith('-') && cli.pod === undefined && /^[^/]+\/[^/]+$/.test(arg)) {
      const [namespace = '', name = ''] = arg.split('/');
      cli.pod = { namespace, name };
    } else throw new ExplainUnavailable(`unexpected argument ${JSON.stringify(arg)}; usage: ${EXPLAIN_USAGE}`, 'bad-input');
  }
  if ((cli.pod === undefined) === (cli.file === undefined)) throw new ExplainUnavailable(`name one pod: <namespace>/<name> or -f <file>; usage: ${EXPLAIN_USAGE}`, 'bad-input');
  return cli;
}

/** Ask the running daemon (GET /explain for a cluster pod, POST /explain with a manifest). */
function askDaemon(socketDir: string, cli: ExplainCli, manifest: string | undefined): Promise<ExplainReport> {
  const path = cli.pod === undefined ? '/explain' : `/explain?namespace=${encodeURIComponent(cli.pod.namespace)}&name=${encodeURIComponent(cli.pod.name)}`;
  return new Promise((resolve, reject) => {
    // node:http not imported: see src/k8s/api-request.ts.
    const req = process.getBuiltinModule('node:http').request({ socketPath: join(socketDir, SOCKET_NAME), path, method: manifest === undefined ? 'GET' : 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(JSON.parse(body) as ExplainReport);
        else reject(new ExplainUnavailable(`the daemon answered ${String(res.statusCode)}: ${body.trim()}`, 'unavailable'));
      });
    });
    req.on('error', (err) => reject(new ExplainUnavailable(`cannot reach the daemon at ${join(socketDir, SOCKET_NAME)}: ${err.message}`, 'unavailable')));
    req.end(manifest);
  });
}

/** Explain in this process, with the node's config and the daemon's Kubernetes credentials. */
async function explainHere(cli: ExplainCli, target: ExplainTarget): Promise<ExplainReport> {
  const config = await loadDaemonConfig(cli.configPath).catch((err: unknown) => {
    throw new ExplainUnavailable(`cannot read the daemon config: ${(err as Error).message}`, 'bad-input');
  });
  const tunables = parseTunables();
  const opts = kubeOptions(config, tunables);
  let kube: KubeService | undefined;
  try {
    if (opts !== undefined) {
      // A one-shot process: live GETs, no informers (as the thin plugin). Loaded only here.
      const { KubeService } = await import('../k8s/kube-service.js');
      kube = new KubeService();
      await kube.start({ ...opts, informers: false }, (line) => (line.level === 'warn' || line.level === 'error' ? process.stderr.write(`${line.msg}\n`) : undefined), () => undefined);
    }
    return await explainPod(target, {
      daemonConfig: config.raw,
      kube,
      cniPath: process.env.CNI_PATH ?? '',
      chrootDir: config.chrootDir,
      devices: { podResourcesSocket: tunables.podResourcesSocket, checkpointFile: tunables.deviceCheckpointFile },
      deviceInfoDir: tunables.deviceInfoDir,
    });
  } finally {
    await kube?.stop();
  }
}

/** Run the command; resolves to what to print and the exit code. */
export async function runExplain(argv: readonly string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const cli = parseExplainCli(argv);
    const manifest = cli.file === undefined ? undefined : await readFile(cli.file, 'utf8');
    let report: ExplainReport;
    if (cli.socketDir !== undefined) {
      // The daemon reads JSON; a YAML manifest is converted here.
      const body = manifest === undefined ? undefined : JSON.stringify(await readManifest(manifest, cli.file ?? ''));
      report = await askDaemon(cli.socketDir, cli, body);
    } else {
      const target: ExplainTarget = cli.pod !== undefined ? { kind: 'cluster', ...cli.pod } : { kind: 'manifest', pod: await podFromManifest(manifest ?? '', cli.file ?? '') };
      report = await explainHere(cli, target);
    }
    return { stdout: cli.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report), stderr: '', code: exitCodeOf(report) };
  } catch (err) {
    return { stdout: '', stderr: `multus-daemon explain: ${(err as Error).message}\n`, code: 2 };
  }
}
