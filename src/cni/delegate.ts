import type { NetworkConfig } from './types.js';

/**
 * One attachment of a pod: a network config to run, and how it is attached. Index 0 is the
 * master (the cluster network): it gets the runtime's CNI_IFNAME and provides the returned result.
 */
export interface Delegate {
  /** The name shown in network-status and events: the network name, or `<ns>/<nad>`. */
  name: string;
  net: NetworkConfig;
  master: boolean;
  /** An interface name asked for explicitly (selection element `interface`). */
  ifnameRequest?: string;
}

/** Upstream's naming: the request, else the runtime's name for the master, else `net<index>`. */
export function delegateIfname(delegate: Delegate, index: number, runtimeIfname: string): string {
  if (delegate.ifnameRequest !== undefined && delegate.ifnameRequest !== '') return delegate.ifnameRequest;
  return delegate.master ? runtimeIfname : `net${index}`;
}
