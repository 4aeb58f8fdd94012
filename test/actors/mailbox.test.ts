import { describe, expect, it } from 'vitest';
import { ActorRegistry } from '../../src/actors/registry.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('per-pod actors', () => {
  it('runs one pod\'s jobs one at a time, in arrival order (CNI-13)', async () => {
    const registry = new ActorRegistry();
    const events: string[] = [];
    let running = 0;
    const job = (name: string, ms: number) => async () => {
      running++;
      expect(running).toBe(1);
      events.push(`start ${name}`);
      await tick(ms);
      events.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([registry.submit('ns/a', job('ADD', 30)), registry.submit('ns/a', job('DEL', 1)), registry.submit('ns/a', job('DEL2', 5))]);
    expect(results).toEqual(['ADD', 'DEL', 'DEL2']);
    expect(events).toEqual(['start ADD', 'end ADD', 'start DEL', 'end DEL', 'start DEL2', 'end DEL2']);
  });

  it('runs different pods concurrently', async () => {
    const registry = new ActorRegistry();
    let peak = 0;
    let running = 0;
    const job = async () => {
      running++;
      peak = Math.max(peak, running);
      await tick(20);
      running--;
    };
    await Promise.all(['a', 'b', 'c'].map((pod) => registry.submit(`ns/${pod}`, job)));
    expect(peak).toBe(3);
  });

  it('a failing job fails only its own caller; the next job still runs', async () => {
    const registry = new ActorRegistry();
    const failed = registry.submit('ns/a', () => Promise.reject(new Error('boom')));
    const next = registry.submit('ns/a', () => Promise.resolve('still fine'));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('still fine');
  });

  it('a job that throws synchronously fails only its own caller; the mailbox goes on and is reaped', async () => {
    const registry = new ActorRegistry();
    const failed = registry.submit('ns/a', (): Promise<string> => {
      throw new Error('thrown before any await');
    });
    const next = registry.submit('ns/a', () => Promise.resolve('still fine'));
    await expect(failed).rejects.toThrow('thrown before any await');
    await expect(next).resolves.toBe('still fine');
    expect(registry.size).toBe(0);
  });

  it('reaps an actor as soon as its mailbox drains', async () => {
    const registry = new ActorRegistry();
    const pending = registry.submit('ns/a', () => tick(10));
    expect(registry.size).toBe(1);
    expect(registry.depth).toBe(1);
    await pending;
    await tick(0);
    expect(registry.size).toBe(0);
  });
});
