import { parseCniArgs } from '../cni/args.js';
import { checkContainerId } from '../cni/delegate-cache.js';
import { isSupportedVersion } from '../cni/result.js';
import { CNI_COMMANDS, type CniCommand, type JsonObject } from '../cni/types.js';
import { mergeDaemonConfig, readMultusConf, type MultusConf } from '../config/multus-conf.js';
import { CNI_ERR, CniError } from '../errors.js';

/**
 * Decoding of the shim's request body (upstream wire format, upstream-behaviour.md §1.4):
 * `{"env":{...},"config":"<base64 stdin>","interfaceAttributes":...}`.
 */

/** The pod a request is about, from CNI_ARGS (the runtime reorders the pairs on every call). */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  infraContainerId: string;
}

/** A decoded, validated CNI request. */
export interface CniRequest {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  /** Present for ADD/DEL/CHECK. */
  pod: PodRef | undefined;
  conf: MultusConf;
}

/** LIB-5: interface names the kernel accepts. */
export function checkIfname(ifname: string): void {
  if (ifname.length > 15 || ifname === '.' || ifname === '..' || /[/:\s]/.test(ifname)) {
    throw new CniError(CNI_ERR.INVALID_ENV, `invalid CNI_IFNAME ${JSON.stringify(ifname)}: at most 15 characters, no "/", ":" or whitespace`);
  }
}

/** The shim's (and the dynamic-networks controller's) body: env strings and the base64 config. */
export function decodeBody(body: Buffer): { env: Record<string, string>; stdin: JsonObject; interfaceAttributes: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new CniError(CNI_ERR.DECODE, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new CniError(CNI_ERR.DECODE, 'request body must be a JSON object');
  const { env, config, interfaceAttributes } = parsed as { env?: unknown; config?: unknown; interfaceAttributes?: unknown };
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new CniError(CNI_ERR.DECODE, 'request "env" must be an object of strings');
  const envStrings: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string') throw new CniError(CNI_ERR.DECODE, `request env ${k} must be a string`);
    envStrings[k] = v;
  }
  if (typeof config !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(config)) {
    throw new CniError(CNI_ERR.DECODE, 'request "config" must be the base64 of the CNI config');
  }
  return { env: envStrings, stdin: parseStdinConfig(Buffer.from(config, 'base64').toString('utf8')), interfaceAttributes };
}

/** The runtime's stdin: a JSON object, else CNI error 6 (decode). */
export function parseStdinConfig(text: string): JsonObject {
  let stdin: unknown;
  try {
    stdin = JSON.parse(text);
  } catch (err) {
    throw new CniError(CNI_ERR.DECODE, `the CNI config on stdin is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof stdin !== 'object' || stdin === null || Array.isArray(stdin)) {
    throw new CniError(CNI_ERR.DECODE, 'the CNI config on stdin must be a JSON object');
  }
  return stdin as JsonObject;
}

/** The pod named by CNI_ARGS; both K8S_POD_NAMESPACE and K8S_POD_NAME are required. */
export function podFromArgs(rawArgs: string | undefined): PodRef {
  const args = parseCniArgs(rawArgs ?? '');
  const namespace = args.get('K8S_POD_NAMESPACE') ?? '';
  const name = args.get('K8S_POD_NAME') ?? '';
  if (namespace === '' || name === '') {
    throw new CniError(CNI_ERR.INVALID_ENV, 'CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME');
  }
  return { namespace, name, uid: args.get('K8S_POD_UID') ?? '', infraContainerId: args.get('K8S_POD_INFRA_CONTAINER_ID') ?? '' };
}

/**
 * Decode and validate a request, merging the daemon config over its stdin. Every failure is a
 * CniError with the right code and a message naming the variable or key at fault.
 */
export function decodeCniRequest(body: Buffer, daemonConfig: JsonObject): CniRequest {
  const { env, stdin } = decodeBody(body);
  return cniRequestFrom(env, stdin, daemonConfig);
}

/**
 * Validate a request from its CNI environment and stdin config, the daemon config merged over
 * it: the shim's request in the daemon, or the thin plugin's own process environment.
 */
export function cniRequestFrom(env: Readonly<Record<string, string | undefined>>, stdin: JsonObject, daemonConfig: JsonObject): CniRequest {
  const conf = readMultusConf(mergeDaemonConfig(stdin, daemonConfig));
  if (!isSupportedVersion(conf.cniVersion)) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `unsupported cniVersion ${JSON.stringify(conf.cniVersion)} in the multus config`);
  }
  const command = env.CNI_COMMAND ?? '';
  if (!(CNI_COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CNI_ERR.INVALID_ENV, command === '' ? 'required env variable CNI_COMMAND missing' : `unknown CNI_COMMAND: ${command}`);
  }
  const cmd = command as CniCommand;
  if (cmd === 'STATUS' || cmd === 'GC') {
    return { command: cmd, containerId: '', netns: '', ifname: '', pod: undefined, conf };
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId === '') throw new CniError(CNI_ERR.INVALID_ENV, 'required env variable CNI_CONTAINERID missing');
  checkContainerId(containerId);
  const netns = env.CNI_NETNS ?? '';
  if (netns === '' && cmd !== 'DEL') throw new CniError(CNI_ERR.INVALID_ENV, 'required env variable CNI_NETNS missing');
  const ifname = env.CNI_IFNAME === undefined || env.CNI_IFNAME === '' ? 'eth0' : env.CNI_IFNAME;
  checkIfname(ifname);
  return { command: cmd, containerId, netns, ifname, pod: podFromArgs(env.CNI_ARGS), conf };
}
