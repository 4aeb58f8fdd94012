import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHere, type ProcessRunner, type ProcessSpec } from '../../src/cni/exec.js';
import { spawnRequest, spawnerRunner } from '../../src/cni/spawner-client.js';
import type { DelegateOutcome } from '../../src/workers/protocol.js';
import { pollUntil } from '../../src/util/poll.js';
import { monotonicMs } from '../../src/util/clock.js';
import { startSpawner, type Spawner } from '../../src/workers/spawner.js';
import { ROOT } from '../helpers/paths.js';

const SPAWNER = `${ROOT}dist/bin/multus-spawner`;
const dir = mkdtempSync('/tmp/multus-spawner-test-');
let spawner: Spawner | undefined;
const gone: string[] = [];

beforeAll(async () => {
  spawner = await startSpawner(join(dir, 'spawner.sock'), (why) => gone.push(why), SPAWNER);
});
afterAll(() => {
  spawner?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sh = (script: string, over: Partial<ProcessSpec> = {}): ProcessSpec => ({ path: 'sh', args: ['-c', script], stdin: '', timeoutMs: 10_000, label: 'plugin test', ...over, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...over.env } });
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};
const waitGone = (pid: number): Promise<true> => pollUntil(() => !alive(pid), { timeoutMs: 5000, everyMs: 20, timedOut: () => new Error(`pid ${pid} still runs`) });

const INHERITED_RUNNER = join(ROOT, 'test/fixtures/inherited-runner.cjs');

/** Runs `spec` through inherited-runner.cjs (inheritedSpawnerRunner), started as `command` with `env` added; its outcome. */
const fixtureRun = (command: string[], spec: ProcessSpec, env: Record<string, string> = {}): Promise<DelegateOutcome> =>
  new Promise<DelegateOutcome>((resolve, reject) => {
    const [file = '', ...args] = command;
    const child = spawn(file, [...args, INHERITED_RUNNER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(Buffer.concat(out).toString()) as DelegateOutcome) : reject(new Error(`inherited-runner.cjs exited ${String(code)}`))));
    child.stdin.end(JSON.stringify(spec));
  });
/** inheritedSpawnerRunner as the thin plugin uses it: in a Node process that `multus-spawner --thin` started, one run per process. */
const thinSpawnerRunner: ProcessRunner = (spec) => fixtureRun([SPAWNER, '--thin', process.execPath], spec);

// Every way of starting a plugin must behave alike: the daemon uses its spawner, the thin plugin
// the one its launcher starts it with, and both spawn from their own thread without one.
const runners: Array<[string, () => ProcessRunner]> = [
  ['spawned here', () => spawnHere],
  ['through multus-spawner', () => spawnerRunner(spawner?.socketPath ?? '')],
  ['through multus-spawner --thin', () => thinSpawnerRunner],
];

describe.each(runners)('starting a plugin, %s', (_name, runner) => {
  it('feeds stdin, passes the environment, and returns stdout on exit 0', async () => {
    const outcome = await runner()(sh('cat; printf " $FOO"', { stdin: '{"cniVersion":"1.1.0"}', env: { FOO: 'bar' } }), monotonicMs());
    expect(outcome).toMatchObject({ ok: true, stdout: '{"cniVersion":"1.1.0"} bar' });
  });

  it('turns a failing exit into the CNI error it printed, with its stderr', async () => {
    const outcome = await runner()(sh('echo \'{"code":7,"msg":"bad config"}\'; echo oops >&2; exit 1'), monotonicMs());
    expect(outcome).toMatchObject({ ok: false, ran: true, timedOut: false, error: { code: 7, msg: 'bad config' }, stderr: 'oops\n' });
  });

  it('names the signal that killed it', async () => {
    const outcome = await runner()(sh('kill -TERM $$'), monotonicMs());
    expect(outcome).toMatchObject({ ok: false, error: { msg: expect.stringContaining('killed by SIGTERM') } });
  });

  it('kills the whole process group at the timeout, helpers it forked included', async () => {
    const pidFile = join(dir, `bg-${_name.length}`);
    const outcome = await runner()(sh(`sleep 30 & echo $! > ${pidFile}; sleep 30`, { timeoutMs: 300 }), monotonicMs());
    expect(outcome).toMatchObject({ ok: false, timedOut: true, error: { code: 11, msg: 'plugin test timed out after 300 ms and was killed' } });
    await waitGone(Number(readFileSync(pidFile, 'utf8')));
  });

  it('kills a plugin that prints without end', async () => {
    const outcome = await runner()(sh('exec cat /dev/zero'), monotonicMs());
    expect(outcome).toMatchObject({ ok: false, error: { code: 999, msg: expect.stringContaining('printed more than') } });
  });

  it('reports a program that cannot start as not run', async () => {
    const outcome = await runner()({ ...sh(''), path: '/nonexistent/plugin', args: [] }, monotonicMs());
    expect(outcome).toMatchObject({ ok: false, ran: false, error: { msg: 'cannot run plugin test (/nonexistent/plugin): spawn /nonexistent/plugin ENOENT' } });
  });
});

describe('multus-spawner', () => {
  it('is the parent of the plugins it starts (their fork is its, not the daemon\'s)', async () => {
    expect(gone).toEqual([]);
    const outcome = await spawnerRunner(spawner?.socketPath ?? '')(sh('cat /proc/$PPID/comm'), monotonicMs());
    expect(outcome).toMatchObject({ ok: true, stdout: 'multus-spawner\n' });
  });

  it('lets a plugin whose client went away (its thread or the daemon died) run to its end: killed half-way it could leave broken state', async () => {
    const done = join(dir, 'orphan.done');
    const socket = connect(spawner?.socketPath ?? '');
    socket.write(spawnRequest(sh(`sleep 0.3; echo > ${done}`)));
    await new Promise((r) => socket.once('data', r));
    socket.destroy();
    await pollUntil(() => existsSync(done), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the program was stopped when its client went away') });
  });

  it('enforces the timeout itself once the client is gone: no plugin runs on without one', async () => {
    const pidFile = join(dir, 'orphan.pid');
    const socket = connect(spawner?.socketPath ?? '');
    socket.write(spawnRequest(sh(`echo $$ > ${pidFile}; exec sleep 30`, { timeoutMs: 300 })));
    const pid = await pollUntil(() => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the program never started') });
    socket.destroy();
    expect(alive(pid)).toBe(true);
    await waitGone(pid);
  });

  it('runs one program at a time per container: a DEL waits until the ADD whose client went away has ended', async () => {
    const log = join(dir, 'serial.log');
    const env = { CNI_CONTAINERID: `serial-${process.pid}` };
    const add = connect(spawner?.socketPath ?? '');
    add.write(spawnRequest(sh(`echo add-start >> ${log}; sleep 0.3; echo add-end >> ${log}`, { env })));
    await new Promise((r) => add.once('data', r));
    add.destroy();
    const del = await spawnerRunner(spawner?.socketPath ?? '')(sh(`echo del >> ${log}`, { env }), monotonicMs());
    expect(del.ok).toBe(true);
    expect(readFileSync(log, 'utf8').split('\n')).toEqual(['add-start', 'add-end', 'del', '']);
    // Another container's run never waits for it.
    const other = await spawnerRunner(spawner?.socketPath ?? '')(sh('echo other', { env: { CNI_CONTAINERID: `other-${process.pid}` } }), monotonicMs());
    expect(other).toMatchObject({ ok: true, stdout: 'other\n' });
  });

  it('a run that times out while it waits for its container\'s lock never starts', async () => {
    const env = { CNI_CONTAINERID: `waiting-${process.pid}` };
    const marker = join(dir, 'never.ran');
    const holding = join(dir, 'holding');
    const holder = spawnerRunner(spawner?.socketPath ?? '')(sh(`echo > ${holding}; sleep 0.6`, { env }), monotonicMs());
    await pollUntil(() => existsSync(holding), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the first run never started') });
    const waiting = await spawnerRunner(spawner?.socketPath ?? '')(sh(`echo > ${marker}`, { env, timeoutMs: 200 }), monotonicMs());
    expect(waiting).toMatchObject({ ok: false, timedOut: true });
    expect((await holder).ok).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });

  it('--thin: is the parent of the plugins its program asks for, and exits as that program did', async () => {
    expect(await thinSpawnerRunner(sh('cat /proc/$PPID/comm'), monotonicMs())).toMatchObject({ ok: true, stdout: 'multus-spawner\n' });
    const thin = (script: string): ReturnType<typeof spawnSync> => spawnSync(SPAWNER, ['--thin', '/bin/sh', '-c', script], { encoding: 'utf8' });
    expect(thin('echo "fd $MULTUS_SPAWNER_FD"; exit 3')).toMatchObject({ status: 3, stdout: 'fd 3\n' });
    expect(thin('kill -TERM $$')).toMatchObject({ status: null, signal: 'SIGTERM' });
    expect(spawnSync(SPAWNER, ['--thin', '/nonexistent/program'], { encoding: 'utf8' })).toMatchObject({ status: 127, stderr: expect.stringContaining('No such file') as unknown });
  });

  it('--thin: its program goes when it is killed (the runtime\'s timeout kills the process it started)', async () => {
    const pidFile = join(dir, 'thin-program.pid');
    const child = spawn(SPAWNER, ['--thin', '/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`], { stdio: 'ignore' });
    const pid = await pollUntil(() => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the program never started') });
    child.kill('SIGKILL');
    await waitGone(pid);
  });

  it('--thin: a request its handler cannot serve ends the socket (the program waits for no answer that never comes)', () => {
    // A length, then a body with no NUL-terminated fields: the handler cannot read it and exits.
    const script = `const fs = require('node:fs'); fs.writeSync(3, '5\\nxxxxx'); try { console.log('read', fs.readSync(3, Buffer.alloc(16))); } catch (e) { console.log(e.code); }`;
    const run = spawnSync(SPAWNER, ['--thin', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(run.error).toBeUndefined();
    expect(run.stdout).toMatch(/^(read 0|ECONNRESET)\n$/);
  });

  it('--thin: a program that dies while its plugin runs does not keep the runtime waiting; the plugin runs to its end', async () => {
    const done = join(dir, 'thin-orphan.done');
    const request = spawnRequest(sh(`sleep 2; echo > ${done}`)).toString('base64');
    const script = `require('node:fs').writeSync(3, Buffer.from(process.env.REQUEST, 'base64')); setTimeout(() => process.kill(process.pid, 'SIGKILL'), 300);`;
    // Its stdout is a pipe: the call returns only once nothing holds it open.
    const run = spawnSync(SPAWNER, ['--thin', process.execPath, '-e', script], { encoding: 'utf8', env: { ...process.env, REQUEST: request }, timeout: 10_000 });
    expect(run.error).toBeUndefined();
    expect(run.signal).toBe('SIGKILL');
    expect(existsSync(done)).toBe(false);
    await pollUntil(() => existsSync(done), { timeoutMs: 5000, everyMs: 20, timedOut: () => new Error('the plugin was stopped when its client died') });
  });

  it('--thin: a client whose spawner is not there spawns the program itself', async () => {
    const outcome = await fixtureRun([process.execPath], sh('cat /proc/$PPID/comm'), { MULTUS_SPAWNER_FD: '9' });
    expect(outcome).toMatchObject({ ok: true, stdout: expect.stringMatching(/^node/) as unknown });
  });

  it('without a spawner at the socket, plugins are spawned here: slower, not broken', async () => {
    const outcome = await spawnerRunner(join(dir, 'nobody.sock'))(sh('echo fallback'), monotonicMs());
    expect(outcome).toMatchObject({ ok: true, stdout: 'fallback\n' });
  });

  it('a spawner that cannot start is reported, and none is used', async () => {
    const why: string[] = [];
    expect(await startSpawner(join(dir, 'x.sock'), (w) => why.push(w), join(dir, 'no-such-binary'))).toBeUndefined();
    expect(why).toEqual([expect.stringContaining('no-such-binary')]);
  });
});
