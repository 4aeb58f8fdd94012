// Black-box tests of the built multus-shim binary (dist/bin/multus-shim).
//
// The shim is run exactly as a container runtime runs a CNI plugin: a fresh,
// explicit environment (nothing inherited) and the network config on stdin.
// Its daemon is faked with node:http listening on a unix socket in a temp dir,
// so every byte of the wire protocol can be recorded and asserted.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const shimBin = path.join(root, 'dist/bin/multus-shim');
const shimSources = ['src/shim/multus-shim.c', 'src/shim/build.sh'].map((f) => path.join(root, f));

const ALL_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

beforeAll(() => {
  // Build when missing, and also when stale, so that editing the C file and
  // running `npx vitest run test/shim` never tests an old binary.
  const builtAt = fs.existsSync(shimBin) ? fs.statSync(shimBin).mtimeMs : -1;
  if (shimSources.some((f) => fs.statSync(f).mtimeMs > builtAt)) {
    execFileSync('sh', ['src/shim/build.sh', 'dist/bin/multus-shim'], { cwd: root, stdio: 'pipe' });
  }
}, 120_000);

// ---------------------------------------------------------------------------
// helpers

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runShim(env: Record<string, string>, stdin: string | Buffer, args: string[] = []): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(shimBin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    // The shim may exit before consuming a huge stdin; that EPIPE is expected.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - t0,
      });
    });
    child.stdin.end(stdin);
  });
}

function cniEnv(command: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: '3f0a9c1e5b7d',
    CNI_NETNS: '/var/run/netns/cni-1234',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
    CNI_PATH: '/opt/cni/bin',
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...extra,
  };
}

function netConf(socketDir: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus-shim', daemonSocketDir: socketDir, ...extra });
}

interface CniError {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

function parseError(r: RunResult): CniError {
  expect(r.stdout.endsWith('\n')).toBe(true);
  expect(r.stdout.trimEnd().includes('\n')).toBe(false); // exactly one line
  return JSON.parse(r.stdout) as CniError;
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface CniRequestBody {
  env: Record<string, string>;
  config: string;
}

type CniHandler = (req: Recorded, res: ServerResponse) => void;

const tempDirs: string[] = [];
const daemons: FakeDaemon[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'shimtest-'));
  tempDirs.push(d);
  return d;
}

/** A stand-in for multus-daemon: records every request, answers /readyz and /cni as told. */
class FakeDaemon {
  readonly dir: string;
  readonly requests: Recorded[] = [];
  /** Status for the n-th (0-based) /readyz request. */
  readyz: (n: number) => number = () => 200;
  /** Status for /healthz; undefined: 404, as for any unknown path. */
  healthz: number | undefined;
  cni: CniHandler = (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end();
  };
  private readonly server: Server;
  private readyzCount = 0;

  constructor(dir: string) {
    this.dir = dir;
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(rec);
        if (rec.url === '/readyz') {
          const status = this.readyz(this.readyzCount++);
          res.writeHead(status, { 'Content-Type': 'text/plain' });
          res.end(status === 200 ? 'ok' : 'shutting down');
        } else if (rec.url === '/healthz' && this.healthz !== undefined) {
          res.writeHead(this.healthz, { 'Content-Type': 'text/plain' });
          res.end();
        } else if (rec.url === '/cni') {
          this.cni(rec, res);
        } else {
          res.writeHead(404);
          res.end('not found');
        }
      });
    });
  }

  get socketPath(): string {
    return path.join(this.dir, 'multus.sock');
  }

  cniRequests(): Recorded[] {
    return this.requests.filter((r) => r.url === '/cni');
  }

  readyzRequests(): Recorded[] {
    return this.requests.filter((r) => r.url === '/readyz');
  }

  start(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve(this));
    });
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function startDaemon(): Promise<FakeDaemon> {
  const d = new FakeDaemon(tempDir());
  daemons.push(d);
  return d.start();
}

function only<T>(xs: T[]): T {
  expect(xs).toHaveLength(1);
  const x = xs[0];
  if (x === undefined) throw new Error('unreachable');
  return x;
}

function replyJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

describe('multus-shim version reporting', () => {
  it('prints its version for -version, -v and --version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['-version', '-v', '--version']) {
      const r = await runShim({}, '', [flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`multus-shim: version:${pkg.version}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('answers CNI VERSION locally, echoing the stdin cniVersion', async () => {
    // A daemon is listening in the configured dir, and must never be contacted.
    const d = await startDaemon();
    const r = await runShim(cniEnv('VERSION'), JSON.stringify({ cniVersion: '0.4.0', daemonSocketDir: d.dir }));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '0.4.0', supportedVersions: ALL_VERSIONS });
    expect(d.requests).toHaveLength(0);
  });

  it('answers CNI VERSION with 1.1.0 on empty stdin, with no daemon anywhere', async () => {
    const r = await runShim({ CNI_COMMAND: 'VERSION' }, '');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`{"cniVersion":"1.1.0","supportedVersions":${JSON.stringify(ALL_VERSIONS)}}\n`);
  });
});

describe('multus-shim local errors', () => {
  it('reports a missing CNI_COMMAND as code 4, labelled with the stdin cniVersion', async () => {
    const r = await runShim({ PATH: '/usr/bin:/bin' }, JSON.stringify({ cniVersion: '0.3.1' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(parseError(r)).toEqual({ cniVersion: '0.3.1', code: 4, msg: 'required env variable CNI_COMMAND missing' });
  });

  it('refuses more than 1 MiB of stdin with code 7', async () => {
    const big = JSON.stringify({ cniVersion: '1.0.0', pad: 'x'.repeat(1024 * 1024) });
    const r = await runShim(cniEnv('ADD'), big);
    expect(r.code).toBe(1);
    const e = parseError(r);
    expect(e.code).toBe(7);
    expect(e.msg).toBe('stdin config larger than 1048576 bytes');
  });

  it('rejects an invalid MULTUS_SHIM_TIMEOUT_MS with code 7 naming the variable', async () => {
    const d = await startDaemon();
    for (const bad of ['abc', '-5', '1.5', '0']) {
      const r = await runShim(cniEnv('ADD', { MULTUS_SHIM_TIMEOUT_MS: bad }), netConf(d.dir));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      const e = parseError(r);
      expect(e.code).toBe(7);
      expect(e.msg).toContain('MULTUS_SHIM_TIMEOUT_MS');
      expect(e.msg).toContain(bad);
    }
    expect(d.requests).toHaveLength(0);
  });

  it('rejects an invalid MULTUS_SHIM_READY_TIMEOUT_MS and invalid stdin timeout keys with code 7', async () => {
    const d = await startDaemon();
    const env = await runShim(cniEnv('ADD', { MULTUS_SHIM_READY_TIMEOUT_MS: '10s' }), netConf(d.dir));
    expect(parseError(env)).toMatchObject({ code: 7, msg: expect.stringContaining('MULTUS_SHIM_READY_TIMEOUT_MS') as unknown });
    const key = await runShim(cniEnv('DEL'), netConf(d.dir, { shimTimeoutMs: -5 }));
    expect(parseError(key)).toMatchObject({ code: 7, msg: expect.stringContaining('shimTimeoutMs') as unknown });
    const str = await runShim(cniEnv('DEL'), netConf(d.dir, { shimReadyTimeoutMs: '300' }));
    expect(parseError(str)).toMatchObject({ code: 7, msg: expect.stringContaining('shimReadyTimeoutMs') as unknown });
    expect(d.requests).toHaveLength(0);
  });

  it('rejects a socket path longer than sun_path with code 7', async () => {
    const r = await runShim(cniEnv('ADD'), netConf('/' + 'd'.repeat(120)));
    expect(r.code).toBe(1);
    const e = parseError(r);
    expect(e.code).toBe(7);
    expect(e.msg).toContain('multus.sock');
    expect(e.msg).toContain('limit');
  });
});

describe('multus-shim readiness', () => {
  it('fails with code 11 naming the socket when no daemon runs (also for DEL)', async () => {
    const dir = tempDir();
    // DEL also checks that a trailing slash does not produce "//multus.sock".
    for (const [cmd, confDir] of [['ADD', dir], ['DEL', `${dir}/`]] as const) {
      const r = await runShim(cniEnv(cmd, { MULTUS_SHIM_READY_TIMEOUT_MS: '300' }), netConf(confDir));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(r.ms).toBeGreaterThanOrEqual(290);
      const e = parseError(r);
      expect(e.cniVersion).toBe('1.0.0');
      expect(e.code).toBe(11);
      expect(e.msg).toBe(`multus-daemon is not ready at ${dir}/multus.sock after 300 ms: connect: No such file or directory`);
      expect(e.details).toMatch(/retry/);
    }
  });

  it('takes the ready timeout from stdin when the env does not set it, env wins otherwise', async () => {
    const dir = tempDir();
    const fromConf = await runShim(cniEnv('ADD'), netConf(dir, { shimReadyTimeoutMs: 200 }));
    expect(parseError(fromConf).msg).toContain('after 200 ms');
    const envWins = await runShim(cniEnv('ADD', { MULTUS_SHIM_READY_TIMEOUT_MS: '150' }), netConf(dir, { shimReadyTimeoutMs: 5000 }));
    expect(parseError(envWins).msg).toContain('after 150 ms');
  });

  it('sends the request first: a daemon that serves it gets no probe', async () => {
    const d = await startDaemon();
    d.cni = (_req, res) => replyJson(res, 200, '{"Result":{"cniVersion":"1.0.0","ips":[]}}');
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.code, r.stdout).toBe(0);
    expect(d.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['POST /cni']);
  });

  it('on a 503 (our daemon shutting down), polls /readyz while it answers 500, then sends the request again', async () => {
    const d = await startDaemon();
    let ready = false;
    d.readyz = (n) => {
      ready = n >= 2;
      return ready ? 200 : 500;
    };
    d.cni = (_req, res) => (ready ? replyJson(res, 200, '{"Result":{"cniVersion":"1.0.0","ips":[]}}') : replyJson(res, 503, 'shutting down'));
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.stdout).toBe('{"cniVersion":"1.0.0","ips":[]}\n');
    expect(r.code).toBe(0);
    expect(d.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['POST /cni', 'GET /readyz', 'GET /readyz', 'GET /readyz', 'POST /cni']);
  });

  it('drives a daemon without /readyz (upstream v4.1 to v4.3.0: 404) once its /healthz answers 200, and waits while it does not', async () => {
    const d = await startDaemon();
    d.readyz = () => 404;
    d.healthz = 200;
    // The first request finds no daemon serving (as when it restarts); then the probe decides.
    let posts = 0;
    d.cni = (_req, res) => (posts++ === 0 ? replyJson(res, 503, '') : replyJson(res, 200, '{"Result":{"cniVersion":"1.0.0","ips":[]}}'));
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.code, r.stdout).toBe(0);
    expect(d.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['POST /cni', 'GET /readyz', 'GET /healthz', 'POST /cni']);

    d.healthz = 500;
    posts = 0;
    const down = await runShim(cniEnv('ADD', { MULTUS_SHIM_READY_TIMEOUT_MS: '300' }), netConf(d.dir));
    expect(parseError(down)).toMatchObject({ code: 11, msg: `multus-daemon is not ready at ${d.socketPath} after 300 ms: /readyz answered 404 and /healthz 500` });
    expect(d.cniRequests()).toHaveLength(3);
  });

  it('fails with code 11 when /readyz keeps answering 500 after a 503', async () => {
    const d = await startDaemon();
    d.readyz = () => 500;
    d.cni = (_req, res) => replyJson(res, 503, 'shutting down');
    const r = await runShim(cniEnv('DEL', { MULTUS_SHIM_READY_TIMEOUT_MS: '300' }), netConf(d.dir));
    expect(r.code).toBe(1);
    const e = parseError(r);
    expect(e.code).toBe(11);
    expect(e.msg).toBe(`multus-daemon is not ready at ${d.socketPath} after 300 ms: /readyz answered 500`);
    expect(d.cniRequests()).toHaveLength(1);
    expect(d.readyzRequests().length).toBeGreaterThanOrEqual(2);
    expect(d.readyzRequests().length).toBeLessThanOrEqual(6);
  });
});

describe('multus-shim wire format', () => {
  it('POSTs {"env","config"} to /cni and prints the inner Result verbatim', async () => {
    const d = await startDaemon();
    // The exact formatting (spaces, key order) must survive: the shim prints the raw value.
    const inner = '{"cniVersion":"1.0.0", "interfaces":[{"name":"eth0","sandbox":"/var/run/netns/cni-1234"}],"ips":[{"address":"10.244.1.7/24","gateway":"10.244.1.1","interface":0}],"dns":{}}';
    d.cni = (_req, res) => replyJson(res, 200, `{"Result":${inner}}`);
    const env = cniEnv('ADD', { MULTUS_EXTRA: 'a "quoted" = value\\ é' });
    const stdin = netConf(d.dir, { note: 'quotes " and \\ backslash, non-ASCII é ü 日本 😀, control \u0001' });
    const r = await runShim(env, stdin);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${inner}\n`);

    const post = only(d.cniRequests());
    expect(post.method).toBe('POST');
    expect(post.headers['host']).toBe('multus');
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.headers['connection']).toBe('close');
    expect(post.headers['content-length']).toBe(String(post.body.length));
    const body = JSON.parse(post.body.toString('utf8')) as CniRequestBody;
    expect(Object.keys(body).sort()).toEqual(['config', 'env']);
    expect(body.env).toEqual(env); // every variable, and only those the runtime passed
    expect(body.config).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    expect(Buffer.from(body.config, 'base64').equals(Buffer.from(stdin, 'utf8'))).toBe(true);
    // no readiness probe before a request the daemon serves
    expect(d.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['POST /cni']);
  });

  it('forwards stdin bytes exactly as padded base64, even when they are not UTF-8', async () => {
    const d = await startDaemon();
    // Three lengths, so that all base64 padding cases (none, "=", "==") occur.
    const stdins = ['', ' ', '  '].map((pad) =>
      Buffer.concat([Buffer.from(`{"cniVersion":"1.0.0","daemonSocketDir":${JSON.stringify(d.dir)},"raw":"`), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(`"}${pad}`)]),
    );
    expect(new Set(stdins.map((b) => b.length % 3)).size).toBe(3);
    for (const stdin of stdins) {
      const r = await runShim(cniEnv('CHECK'), stdin);
      expect(r.code).toBe(0);
    }
    const configs = d.cniRequests().map((q) => (JSON.parse(q.body.toString('utf8')) as CniRequestBody).config);
    expect(configs).toEqual(stdins.map((b) => b.toString('base64')));
  });

  it('uses only the top-level daemonSocketDir (nested keys, look-alike strings and escaped keys)', async () => {
    const a = await startDaemon();
    const b = await startDaemon();
    // Hand-written so that the tricky cases are really in the bytes.
    const stdin =
      '{"cniVersion":"1.0.0","plugins":[{"daemonSocketDir":' + JSON.stringify(a.dir) + '}],' +
      '"fake":"\\"daemonSocketDir\\":\\"' + a.dir + '\\"\\\\",' +
      '"daemon\\u0053ocketDir":' + JSON.stringify(b.dir + '/') + ',' +
      '"nested":{"daemonSocketDir":' + JSON.stringify(a.dir) + ',"deeper":[[{"x":"}"}]]}}';
    expect((JSON.parse(stdin) as { daemonSocketDir: string }).daemonSocketDir).toBe(b.dir + '/');
    const r = await runShim(cniEnv('DEL'), stdin);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
    expect(a.requests).toHaveLength(0);
    expect(b.cniRequests()).toHaveLength(1);
  });

  it('prints nothing and exits 0 on an empty 200 (DEL)', async () => {
    const d = await startDaemon();
    const r = await runShim(cniEnv('DEL'), netConf(d.dir));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    const body = JSON.parse(only(d.cniRequests()).body.toString('utf8')) as CniRequestBody;
    expect(body.env['CNI_COMMAND']).toBe('DEL');
  });

  it('forwards unknown commands to the daemon, which rejects them', async () => {
    const d = await startDaemon();
    const err = '{"cniVersion":"1.0.0","code":4,"msg":"unknown CNI_COMMAND FROB"}';
    d.cni = (req, res) => {
      const body = JSON.parse(req.body.toString('utf8')) as CniRequestBody;
      replyJson(res, body.env['CNI_COMMAND'] === 'FROB' ? 400 : 200, err);
    };
    const r = await runShim(cniEnv('FROB'), netConf(d.dir));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${err}\n`);
  });

  it('decodes a chunked 200 answer', async () => {
    const d = await startDaemon();
    const big = 'y'.repeat(300_000); // spans many reads and chunks
    const inner = `{"cniVersion":"1.0.0","ips":[],"pad":"${big}"}`;
    d.cni = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.write('{"Res');
      res.write('ult":');
      for (let i = 0; i < inner.length; i += 7_777) res.write(inner.slice(i, i + 7_777));
      setTimeout(() => res.end('}'), 20);
    };
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${inner}\n`);
  });

  it('reports a 200 without a usable Result as code 999', async () => {
    const d = await startDaemon();
    d.cni = (_req, res) => replyJson(res, 200, '{"result":{"ips":[]}}');
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.code).toBe(1);
    const e = parseError(r);
    expect(e.code).toBe(999);
    expect(e.msg).toBe('unexpected answer from multus-daemon: {"result":{"ips":[]}}');
  });
});

describe('multus-shim error passthrough', () => {
  it('prints a daemon CNI error body as is and exits 1', async () => {
    const d = await startDaemon();
    const err = '{"cniVersion":"1.0.0","code":7,"msg":"bad"}';
    d.cni = (_req, res) => replyJson(res, 400, err);
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${err}\n`);
    expect(r.stderr).toBe('');
  });

  it('wraps a non-JSON error body into code 999', async () => {
    const d = await startDaemon();
    d.cni = (_req, res) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('  request body is not "JSON"\n');
    };
    const r = await runShim(cniEnv('ADD'), netConf(d.dir));
    expect(r.code).toBe(1);
    const e = parseError(r);
    expect(e).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'multus-daemon answered HTTP 400: request body is not "JSON"' });
  });

  it('truncates a long error body to 512 bytes', async () => {
    const d = await startDaemon();
    d.cni = (_req, res) => {
      res.writeHead(503);
      res.end('z'.repeat(5000));
    };
    const e = parseError(await runShim(cniEnv('ADD'), netConf(d.dir)));
    expect(e.code).toBe(999);
    expect(e.msg).toBe(`multus-daemon answered HTTP 503: ${'z'.repeat(512)}`);
  });
});

describe('multus-shim client timeout', () => {
  it('gives up with code 11 when /cni never answers', async () => {
    const d = await startDaemon();
    d.cni = () => undefined; // hold the request forever
    const r = await runShim(cniEnv('ADD', { MULTUS_SHIM_TIMEOUT_MS: '300' }), netConf(d.dir));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.ms).toBeGreaterThanOrEqual(290);
    const e = parseError(r);
    expect(e.code).toBe(11);
    expect(e.msg).toBe(`no answer from multus-daemon at ${d.socketPath} within 300 ms`);
    expect(d.cniRequests()).toHaveLength(1);
  });
});
