/**
 * events.k8s.io/v1 Events are stored as core/v1 Events, as on the real server, so an event
 * posted through either API shows up in both lists. These are the field renames between them.
 */
import type { JsonObject } from './json.js';

/** [core/v1 field, events.k8s.io/v1 field]; fields not listed keep their name. */
const RENAMES: ReadonlyArray<readonly [string, string]> = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

function rename(obj: JsonObject, fromIndex: 0 | 1, apiVersion: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(obj)) {
    const pair = RENAMES.find((p) => p[fromIndex] === key);
    out[pair === undefined ? key : pair[fromIndex === 0 ? 1 : 0]] = value;
  }
  out.apiVersion = apiVersion;
  return out;
}

/** An events.k8s.io/v1 Event body in its stored core/v1 shape. */
export function eventToCore(obj: JsonObject): JsonObject {
  return rename(obj, 1, 'v1');
}

/** A stored core/v1 Event as events.k8s.io/v1 serves it. */
export function eventFromCore(obj: JsonObject): JsonObject {
  return rename(obj, 0, 'events.k8s.io/v1');
}
