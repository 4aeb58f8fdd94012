import { describe, expect, it } from 'vitest';
import type { CniRoute } from '../../src/cni/result.js';
import { isDefaultRoute, routeFamily } from '../../src/cni/routes.js';

describe('default routes (one test for the default-route request and for network-status)', () => {
  it.each([
    [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, true, 4],
    [{ dst: '::/0', gw: 'fd00::1' }, true, 6],
    [{ dst: '0:0::0/00', gw: 'fd00::1' }, true, 6],
    [{ gw: '10.0.0.1' } as unknown as CniRoute, true, 4],
    [{ dst: '', gw: 'fd00::1' }, true, 6],
    [{ dst: '10.0.0.0/8', gw: '10.0.0.1' }, false, 4],
    [{ dst: '0.0.0.0/1', gw: '10.0.0.1' }, false, 4],
    [{ dst: 'fd00::/64' }, false, 6],
    [{ dst: 'default' }, false, undefined],
  ] as Array<[CniRoute, boolean, 4 | 6 | undefined]>)('%j: default %s, family %s', (route, isDefault, family) => {
    expect(isDefaultRoute(route)).toBe(isDefault);
    expect(routeFamily(route)).toBe(family);
  });
});
