import { CNI_ERR, CniError } from '../errors.js';
import { pathExists } from '../util/path-exists.js';
import { pollUntil } from '../util/poll.js';

const POLL_MS = 100;

/**
 * MN-39: with `readinessindicatorfile` in the request, attach nothing until the default network
 * has written that file; give up after `timeoutMs` with an error the runtime will retry.
 */
export async function waitForReadinessIndicator(path: string, timeoutMs: number): Promise<void> {
  await pollUntil(() => pathExists(path), {
    timeoutMs,
    everyMs: POLL_MS,
    timedOut: () => new CniError(CNI_ERR.TRY_AGAIN_LATER, `the default network is not ready: readiness indicator file ${path} does not exist after ${timeoutMs} ms; have you checked that your default network is ready?`),
  });
}
