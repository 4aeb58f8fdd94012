/**
 * The CNI spec versions we speak. A module of its own, with no imports, so that the thin
 * plugin's VERSION answer loads nothing else (result.ts needs `node:net`, about 5 ms to load).
 */

/** Every CNI spec version we speak, oldest first. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** One of {@link SUPPORTED_VERSIONS}. */
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
