/**
 * The error model: one class whose numeric `code` is the CNI error code (the contract that
 * crosses the socket, the shim and the runtime). `instanceof` is a convenience on the main
 * thread only; anything crossing a thread boundary travels as a plain {code,msg,details}.
 */

/** CNI error codes (SPEC 1.1.0 "Error" plus libcni's 8 and 999). */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO: 5,
  DECODE: 6,
  INVALID_CONFIG: 7,
  INVALID_NETNS: 8,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  INTERNAL: 999,
} as const;

/** A CNI error as it appears on the wire (stdout of a plugin, body of a 400 from the daemon). */
export interface CniErrorBody {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

/** An error that knows its CNI code. Thrown anywhere on the main thread. */
export class CniError extends Error {
  override readonly name = 'CniError';
  readonly details: string | undefined;

  constructor(
    readonly code: number,
    message: string,
    details?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.details = details;
  }
}

/** Any thrown value as a CniError; anything else becomes 999 and keeps the original as `cause`. */
export function asCniError(err: unknown): CniError {
  return err instanceof CniError ? err : new CniError(CNI_ERR.INTERNAL, err instanceof Error ? err.message : String(err), undefined, { cause: err });
}

/** True for a programming error (not a CNI outcome), directly or as the cause of a CniError. */
export function isUnexpected(err: unknown): boolean {
  if (!(err instanceof CniError)) return true;
  return err.cause !== undefined && !(err.cause instanceof CniError);
}

/**
 * Map any thrown value to the CNI error JSON the runtime sees. Unknown errors become 999 with
 * their message, never a dump of the request (upstream #1107).
 */
export function toCniErrorBody(err: unknown, cniVersion: string): CniErrorBody {
  const body: CniErrorBody = { cniVersion, code: CNI_ERR.INTERNAL, msg: String(err) };
  if (err instanceof Error) body.msg = err.message;
  if (typeof err === 'object' && err !== null) {
    const { code, details } = err as { code?: unknown; details?: unknown };
    if (typeof code === 'number' && Number.isInteger(code) && code > 0) body.code = code;
    if (typeof details === 'string' && details !== '') body.details = details;
  }
  return body;
}
