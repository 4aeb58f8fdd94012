import type { TestHost } from '../test/helpers/host.js';
import type { Table } from './table.js';

/** What a scope hands the runner: figures for bench/results/<scope>.json and tables to print. */
export interface ScopeOutput {
  figures: unknown;
  tables: Table[];
}

/**
 * One benchmark scope. It gets a fresh TestHost (its temp dir, netns and links are removed by
 * the runner, also on failure) and must stop every daemon and API server it starts.
 */
export type Scope = (host: TestHost) => Promise<ScopeOutput>;
