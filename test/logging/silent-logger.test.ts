import { describe, expect, it } from 'vitest';
import { silentLogger, writesNothing } from '../../src/logging/silent-logger.js';

describe('the thin plugin\'s logger at panic (upstream\'s default)', () => {
  it('writes nothing at fatal or silent, and still refuses an unknown level', () => {
    expect(writesNothing('panic')).toBe(true);
    expect(writesNothing('silent')).toBe(true);
    expect(writesNothing('error')).toBe(false);
    expect(writesNothing('verbose')).toBe(false);
    expect(() => writesNothing('loud')).toThrow(/logLevel "loud" is not one of/);
  });

  it('is a no-op logger that an async factory can return (not a thenable)', async () => {
    expect(await Promise.resolve(silentLogger)).toBe(silentLogger);
    expect(silentLogger.child({ component: 'kube' })).toBe(silentLogger);
    expect(silentLogger.isLevelEnabled('debug')).toBe(false);
    expect(silentLogger.info({ a: 1 }, 'nothing')).toBeUndefined();
  });
});
