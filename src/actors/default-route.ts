import { isIPv4 } from '../util/ip-address.js';
import type { Delegate } from '../cni/delegate.js';
import type { CniResult, CniRoute } from '../cni/result.js';
import { isDefaultRoute, routeFamily } from '../cni/routes.js';
import { CNI_ERR, CniError } from '../errors.js';

/**
 * `default-route` (MN-21, MUL-8): the attachment that asked for a gateway of a family becomes the
 * pod's default route for that family, and every other attachment loses its default route of
 * that family, inside the pod and in its result (so network-status, the returned result and the
 * cached results that DEL/CHECK read all agree). An empty list asks for nothing: that attachment
 * keeps its own gateway. At most one gateway per family reaches here (checkDefaultRoutes).
 */

type Family = 4 | 6;

/** Runs `ip -<family> route ...` in the pod's namespace; resolves false when the route was absent. */
export type NetnsRoute = (args: string[]) => Promise<void>;

function familyOf(ip: string): Family {
  return isIPv4(ip) ? 4 : 6;
}

/** A default route of that family (routes.ts says what counts as default). */
function isDefaultOf(route: CniRoute, family: Family): boolean {
  return isDefaultRoute(route) && routeFamily(route) === family;
}

/** The requested gateway of each family, with the index of the delegate that asked for it. */
export function requestedGateways(delegates: readonly Delegate[]): Array<{ family: Family; gw: string; owner: number }> {
  return delegates.flatMap((d, owner) => (d.requests?.defaultRoute ?? []).map((gw) => ({ family: familyOf(gw), gw, owner })));
}

/**
 * Apply the requests. `ifnames[i]` is delegate i's interface in the pod. Returns the results,
 * changed where routes changed, and the indexes of the delegates whose results changed.
 */
export async function applyDefaultRoutes(
  delegates: readonly Delegate[],
  results: readonly CniResult[],
  ifnames: readonly string[],
  route: NetnsRoute,
): Promise<{ results: CniResult[]; changed: Set<number> }> {
  const out = results.map((r) => ({ ...r, routes: [...(r.routes ?? [])] }));
  const changed = new Set<number>();
  for (const { family, gw, owner } of requestedGateways(delegates)) {
    for (const [i, result] of out.entries()) {
      if (i === owner || !result.routes.some((r) => isDefaultOf(r, family))) continue;
      await route([`-${family}`, 'route', 'del', 'default', 'dev', ifnames[i] as string]).catch((err: unknown) => {
        // Already gone is what we want; anything else is a real failure.
        if (!String((err as Error).message).includes('No such process')) throw err;
      });
      result.routes = result.routes.filter((r) => !isDefaultOf(r, family));
      changed.add(i);
    }
    const ownerResult = out[owner] as CniResult & { routes: CniRoute[] };
    try {
      await route([`-${family}`, 'route', 'replace', 'default', 'via', gw, 'dev', ifnames[owner] as string]);
    } catch (err) {
      throw new CniError(CNI_ERR.INTERNAL, `default-route: cannot set the default route via ${gw} on ${String(ifnames[owner])} for network "${delegates[owner]?.name ?? ''}": ${(err as Error).message}`);
    }
    ownerResult.routes = [...ownerResult.routes.filter((r) => !isDefaultOf(r, family)), { dst: family === 4 ? '0.0.0.0/0' : '::/0', gw }];
    changed.add(owner);
  }
  return { results: out, changed };
}
