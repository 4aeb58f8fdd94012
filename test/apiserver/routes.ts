/**
 * Request paths → resource, namespace, name and subresource, with the exact shapes of the
 * real API (`/api/v1/...` for core, `/apis/{group}/{version}/...` for the rest).
 */
import { findResource, type ResourceDef } from './resources.js';

/** A path the fake serves. `name` is absent for collections, `namespace` for all-namespace and cluster-scoped ones. */
export interface Route {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** The route for a pathname, or undefined when the real server would answer 404 for the path itself. */
export function parseRoute(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') {
    [group, version, rest] = ['', 'v1', segments.slice(2)];
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    [group, version, rest] = [segments[1] ?? '', segments[2] ?? '', segments.slice(3)];
  } else {
    return undefined;
  }
  let route: { resource: string; namespace?: string; name?: string; subresource?: string };
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest.length <= 5) {
    const [, namespace = '', resource = '', name, subresource] = rest;
    route = { resource, namespace, ...(name === undefined ? {} : { name }), ...(subresource === undefined ? {} : { subresource }) };
  } else if (rest.length >= 1 && rest.length <= 3) {
    const [resource = '', name, subresource] = rest;
    route = { resource, ...(name === undefined ? {} : { name }), ...(subresource === undefined ? {} : { subresource }) };
  } else {
    return undefined;
  }
  const def = findResource(group, version, route.resource);
  if (def === undefined || route.namespace === '' || route.name === '') return undefined;
  // Namespaced resources have objects only under a namespace; cluster-scoped ones never do.
  if (def.namespaced ? route.name !== undefined && route.namespace === undefined : route.namespace !== undefined) return undefined;
  if (route.subresource !== undefined && !def.subresources.includes(route.subresource)) return undefined;
  const { resource: _r, ...where } = route;
  return { def, ...where };
}
