import { isJsonObject } from '../cni/types.js';
import { podInfo } from './api-objects.js';
import type { PodInfo } from './protocol.js';

/**
 * A pod manifest (`kubectl get pod -o yaml|json`, or one not created yet) as planning sees it.
 * JSON is read without client-node; YAML through client-node's `loadYaml` (its js-yaml), loaded
 * only then. A pod without a namespace is in `default`, as kubectl creates it.
 * @throws Error naming what is wrong with the manifest.
 */
export async function podFromManifest(text: string, source: string): Promise<PodInfo> {
  return podFromObject(await readManifest(text, source), source);
}

/** A manifest's object, JSON or YAML. */
export async function readManifest(text: string, source: string): Promise<unknown> {
  try {
    return JSON.parse(text);
  } catch {
    try {
      const { loadYaml } = await import('@kubernetes/client-node');
      return loadYaml(text);
    } catch (err) {
      throw new Error(`${source} is neither JSON nor YAML: ${(err as Error).message}`);
    }
  }
}

/** A pod object already parsed (an explain request's body). */
export function podFromObject(obj: unknown, source: string): PodInfo {
  if (!isJsonObject(obj)) throw new Error(`${source} must be a Pod object`);
  if (obj.kind !== undefined && obj.kind !== 'Pod') throw new Error(`${source} is a ${JSON.stringify(obj.kind)}, not a Pod`);
  const pod = podInfo(obj);
  if (pod.name === '') throw new Error(`${source} has no metadata.name`);
  return { ...pod, namespace: pod.namespace === '' ? 'default' : pod.namespace };
}
