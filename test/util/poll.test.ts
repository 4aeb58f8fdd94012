import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/util/poll.js';

describe('pollUntil', () => {
  it('returns what an async check found, once it finds something', async () => {
    let calls = 0;
    const found = await pollUntil(() => Promise.resolve(++calls === 3 ? 'third' : undefined), { timeoutMs: 5000, everyMs: 1, timedOut: () => new Error('no') });
    expect(found).toBe('third');
    expect(calls).toBe(3);
  });

  it('throws the time-out error built at the deadline, after checking once more then', async () => {
    let calls = 0;
    const failed = pollUntil(() => {
      calls++;
      return false;
    }, { timeoutMs: 30, everyMs: 1000, timedOut: () => new Error(`gave up after ${calls} checks`) });
    await expect(failed).rejects.toThrow('gave up after 2 checks');
  });

  it('stops early when its signal is aborted', async () => {
    const abort = new AbortController();
    const waiting = pollUntil(() => undefined, { timeoutMs: 60_000, everyMs: 60_000, signal: abort.signal, timedOut: () => new Error('timed out') });
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });
});
