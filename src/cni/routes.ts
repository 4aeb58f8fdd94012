import { isIP } from '../util/ip-address.js';
import type { CniRoute } from './result.js';

/**
 * A default route: its dst is empty (some plugins leave it out) or an all-zeros prefix of length
 * 0 (`0.0.0.0/0`, `::/0`, and their longer spellings). The one test for both the default-route
 * request (which default routes to remove) and network-status (which gateways to show).
 */
export function isDefaultRoute(route: CniRoute): boolean {
  const dst = route.dst as string | undefined;
  if (dst === undefined || dst === '') return true;
  const slash = dst.indexOf('/');
  if (slash === -1) return false;
  const ip = dst.slice(0, slash);
  return isIP(ip) !== 0 && /^[0:.]+$/.test(ip) && /^0+$/.test(dst.slice(slash + 1));
}

/** The IP family of a route: its destination's, else (no dst) its gateway's; undefined when neither tells. */
export function routeFamily(route: CniRoute): 4 | 6 | undefined {
  const dst = route.dst as string | undefined;
  const ip = dst === undefined || dst === '' ? (route.gw ?? '') : dst.slice(0, dst.indexOf('/') === -1 ? undefined : dst.indexOf('/'));
  const family = isIP(ip);
  return family === 4 || family === 6 ? family : undefined;
}
