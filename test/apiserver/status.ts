/**
 * metav1.Status bodies and the error type the handlers throw. Clients (client-node's
 * ApiException, the Watch ListWatch) key on `code` and `reason`, so both follow the real
 * apiserver exactly.
 */

/** One entry of `details.causes`, as in a 422 Invalid answer. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** `details` of a Status: which object the failure is about. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A metav1.Status as the apiserver writes it. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A group and resource, e.g. `pods` or `network-attachment-definitions.k8s.cni.cncf.io`. */
export interface GroupResource {
  group: string;
  resource: string;
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const DEFAULT_MESSAGES: Readonly<Record<number, string>> = {
  400: 'the server rejected our request for an unknown reason',
  401: 'Unauthorized',
  403: 'forbidden',
  404: 'the server could not find the requested resource',
  405: 'the server does not allow this method on the requested resource',
  409: 'the server reported a conflict',
  410: 'the resource requested is no longer available',
  415: 'the server does not support the media type of the request',
  422: 'the server rejected our request due to an error in our request',
  429: 'the server has received too many requests and has asked us to try again later',
  500: 'an error on the server ("injected failure") has prevented the request from succeeding',
  503: 'the server is currently unable to handle the request',
  504: 'the server was unable to return a response in the time allotted, but may still be processing the request',
};

/** The StatusReason the real apiserver pairs with an HTTP code ('' when it has none). */
export function reasonFor(code: number): string {
  return REASONS[code] ?? (code >= 500 ? 'InternalError' : '');
}

/** The generic message the apiserver uses for a code when nothing more specific applies. */
export function defaultMessage(code: number): string {
  return DEFAULT_MESSAGES[code] ?? `an error on the server (code ${code}) has prevented the request from succeeding`;
}

/** `pods` or `network-attachment-definitions.k8s.cni.cncf.io`: how messages name a resource. */
export function qualifiedResource(gr: GroupResource): string {
  return gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`;
}

function detailsFor(gr: GroupResource, name: string): StatusDetails {
  return gr.group === '' ? { name, kind: gr.resource } : { name, group: gr.group, kind: gr.resource };
}

/** A failed request: thrown by handlers, written by the server as a Status of `code`. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, message: string, reason: string = reasonFor(code), details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The Status body for this error. */
  toStatus(): Status {
    return failureStatus(this.code, this.message, this.reason, this.details);
  }
}

/** A Failure Status, keys in the apiserver's order. */
export function failureStatus(code: number, message: string, reason: string = reasonFor(code), details?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason === '' ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** The Success Status a DELETE answers with for resources that do not return the object. */
export function successStatus(gr: GroupResource, name: string, uid: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...detailsFor(gr, name), uid }, code: 200 };
}

/** 404 `pods "x" not found`. */
export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(404, `${qualifiedResource(gr)} "${name}" not found`, 'NotFound', detailsFor(gr, name));
}

/** 409 AlreadyExists `pods "x" already exists`. */
export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(409, `${qualifiedResource(gr)} "${name}" already exists`, 'AlreadyExists', detailsFor(gr, name));
}

/** 409 Conflict; the default cause is the optimistic-concurrency one clients retry on. */
export function conflict(gr: GroupResource, name: string, cause = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(409, `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${cause}`, 'Conflict', detailsFor(gr, name));
}

/** 422 Invalid: `Pod "x" is invalid: field: message`, with one cause per field error. */
export function invalid(group: string, kind: string, name: string, causes: StatusCause[]): ApiError {
  const groupKind = group === '' ? kind : `${kind}.${group}`;
  const text = causes.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`).join(', ');
  const summary = causes.length > 1 ? `[${text}]` : text;
  const details: StatusDetails = group === '' ? { name, kind, causes } : { name, group, kind, causes };
  return new ApiError(422, `${groupKind} "${name}" is invalid: ${summary}`, 'Invalid', details);
}

/** 400 BadRequest with a message. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, message, 'BadRequest');
}

/** 415 for a body in a media type the endpoint does not take, listing those it does. */
export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return new ApiError(415, `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, 'UnsupportedMediaType');
}
