#!/usr/bin/env node
/**
 * `multus`: the thin plugin (upstream-behaviour.md §6, `multus-daemonset.yml`). The runtime runs
 * it for every CNI call, like the shim, but it does the daemon's work itself, in-process: the
 * same planning and pod operations (src/actors), the same libcni-style runner, plugins spawned
 * directly instead of through the pool, and the Kubernetes API read with live GETs through the
 * `kubeconfig` named in its config. No daemon, no socket; every call pays Node's start-up.
 *
 * VERSION, which runtimes ask of every plugin, is answered here before anything else is loaded
 * (loading the rest took about 30 ms); every other command is call.ts.
 */
import { SUPPORTED_VERSIONS } from '../cni/versions.js';
import { answerAndExit } from './answer.js';

if (process.env.CNI_COMMAND === 'VERSION') {
  answerAndExit(JSON.stringify({ cniVersion: '1.1.0', supportedVersions: SUPPORTED_VERSIONS }), 0);
} else {
  const { runCall } = await import('./call.js');
  await runCall();
}
