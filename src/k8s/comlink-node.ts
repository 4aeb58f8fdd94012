import type { Endpoint } from 'comlink';
import adapter from 'comlink/dist/umd/node-adapter.js';
import type { NodeEndpoint } from 'comlink/dist/umd/node-adapter.js';

/**
 * comlink's Node adapter. The package ships it as UMD only (no exports map, so ESM needs the
 * `.js` path); under ESM its default import IS the function, while its .d.ts types the default
 * import as the module object. The cast lives here, once.
 */
export const nodeEndpoint = adapter as unknown as (endpoint: NodeEndpoint) => Endpoint;
