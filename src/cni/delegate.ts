import type { NetworkConfig } from './types.js';

/**
 * What a pod asked for one attachment (selection element keys). Each becomes the runtimeConfig
 * value of the capability of the same name, for the plugins declaring it.
 */
export interface AttachmentRequests {
  ips?: string[];
  mac?: string;
  infinibandGUID?: string;
  portMappings?: unknown[];
  bandwidth?: Record<string, unknown>;
  deviceID?: string;
  /** `default-route` gateways; present (possibly empty) only when asked for. */
  defaultRoute?: string[];
}

/**
 * One attachment of a pod: a network config to run, and how it is attached. The master (the
 * cluster network, index 0) gets the runtime's CNI_IFNAME and runtimeConfig and provides the
 * returned result; the others get `net<index>` and only what the pod asked for (MN-46).
 */
export interface Delegate {
  /** The name shown in network-status and events: the network name, or `<ns>/<nad>`. */
  name: string;
  net: NetworkConfig;
  master: boolean;
  /** An interface name asked for explicitly (selection element `interface`). */
  ifnameRequest?: string;
  requests?: AttachmentRequests;
  /**
   * The NAD's `k8s.v1.cni.cncf.io/resourceName`: the attachment uses one of the pod's devices of
   * that resource, whose ID becomes `requests.deviceID` (over any deviceID the pod asked for).
   */
  resourceName?: string;
  /** The auxiliary CNI chain: it creates no interface, so it gets no network-status entry. */
  auxiliary?: boolean;
  /**
   * Where its config came from, in words (`network-attachment-definition ns/x spec.config`, a
   * file path...): for `multus-daemon explain`. Not kept in the delegate cache.
   */
  source?: string;
}

/** Upstream's naming: the request, else the runtime's name for the master, else `net<index>`. */
export function delegateIfname(delegate: Delegate, index: number, runtimeIfname: string): string {
  if (delegate.ifnameRequest !== undefined && delegate.ifnameRequest !== '') return delegate.ifnameRequest;
  return delegate.master ? runtimeIfname : `net${index}`;
}

/** The capability values a request maps to (runtimeConfig keys). */
export function requestedCapabilities(requests: AttachmentRequests | undefined): Record<string, unknown> {
  const caps: Record<string, unknown> = {};
  if (requests === undefined) return caps;
  const { ips, mac, infinibandGUID, portMappings, bandwidth, deviceID } = requests;
  for (const [key, value] of Object.entries({ ips, mac, infinibandGUID, portMappings, bandwidth, deviceID })) {
    if (value !== undefined) caps[key] = value;
  }
  return caps;
}
