/**
 * The two patch formats the apiserver applies to JSON: RFC 7386 merge patch and RFC 6902
 * JSON patch. Errors carry the HTTP code the real server answers with: 400 when the patch
 * document itself cannot be decoded, 422 when it does not apply to the object.
 */
import { clone, deepEqual, isObject, type JsonObject } from './json.js';

/** A patch that could not be decoded (400) or applied (422). */
export class PatchError extends Error {
  readonly code: 400 | 422;

  constructor(code: 400 | 422, message: string) {
    super(message);
    this.code = code;
  }
}

/** RFC 7386: null deletes, objects merge recursively, anything else replaces. Inputs are not changed. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/**
 * Strategic merge patch, approximated as a merge patch with the `$`-directives dropped: right
 * for maps such as labels and annotations, wrong for lists with merge keys (they are replaced).
 */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  return applyMergePatch(target, stripDirectives(patch));
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) if (!key.startsWith('$')) out[key] = stripDirectives(child);
  return out;
}

/** Split a JSON pointer into unescaped reference tokens (`~1` is `/`, `~0` is `~`). */
export function parsePointer(pointer: unknown, op: string): string[] {
  if (typeof pointer !== 'string') throw new PatchError(422, `${op} operation: path is not a string`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(422, `${op} operation: invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = JsonObject | unknown[];

function arrayIndex(token: string, length: number, allowEnd: boolean, op: string, path: string): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(422, `${op} operation does not apply: invalid array index ${JSON.stringify(token)} in ${path}`);
  const index = Number(token);
  if (index > length || (!allowEnd && index === length)) throw new PatchError(422, `${op} operation does not apply: index out of range in ${path}`);
  return index;
}

const MISSING = Symbol('missing');

/** The value at `tokens`, or MISSING when some step does not exist. */
function lookup(doc: unknown, tokens: readonly string[]): unknown {
  let current: unknown = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token) || Number(token) >= current.length) return MISSING;
      current = current[Number(token)];
    } else if (isObject(current)) {
      if (!Object.hasOwn(current, token)) return MISSING;
      current = current[token];
    } else {
      return MISSING;
    }
  }
  return current;
}

function parentOf(doc: unknown, tokens: readonly string[], op: string, path: string): { parent: Container; key: string } {
  const parent = lookup(doc, tokens.slice(0, -1));
  const key = tokens[tokens.length - 1];
  if (key === undefined || parent === MISSING || (!Array.isArray(parent) && !isObject(parent))) {
    throw new PatchError(422, `${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  }
  return { parent, key };
}

function add(doc: unknown, tokens: readonly string[], value: unknown, path: string): unknown {
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, 'add', path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, true, 'add', path), 0, value);
  else parent[key] = value;
  return doc;
}

function remove(doc: unknown, tokens: readonly string[], op: string, path: string): unknown {
  if (tokens.length === 0) throw new PatchError(422, `${op} operation does not apply: cannot remove the whole document`);
  const { parent, key } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) {
    const removed: unknown = parent.splice(arrayIndex(key, parent.length, false, op, path), 1)[0];
    return removed;
  }
  if (!Object.hasOwn(parent, key)) throw new PatchError(422, `${op} operation does not apply: doc is missing key: ${path}: missing value`);
  const removed = parent[key];
  delete parent[key];
  return removed;
}

/**
 * Apply an RFC 6902 patch document (the raw decoded body) to a copy of `doc`. Operations are
 * applied in order and atomically: any failure leaves the caller's `doc` untouched.
 */
export function applyJsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) {
    throw new PatchError(400, `json: cannot unmarshal ${operations === null ? 'null' : typeof operations} into Go value of type jsonpatch.Patch`);
  }
  let result: unknown = clone(doc);
  for (const raw of operations) {
    if (!isObject(raw)) throw new PatchError(400, 'json: cannot unmarshal non-object into Go value of type jsonpatch.Operation');
    const op = raw.op;
    const path = typeof raw.path === 'string' ? raw.path : '';
    const needsValue = op === 'add' || op === 'replace' || op === 'test';
    if (needsValue && !Object.hasOwn(raw, 'value')) throw new PatchError(422, `${String(op)} operation: missing value`);
    switch (op) {
      case 'add':
        result = add(result, parsePointer(raw.path, op), clone(raw.value), path);
        break;
      case 'remove':
        remove(result, parsePointer(raw.path, op), op, path);
        break;
      case 'replace': {
        const tokens = parsePointer(raw.path, op);
        if (tokens.length === 0) {
          result = clone(raw.value);
          break;
        }
        if (lookup(result, tokens) === MISSING) throw new PatchError(422, `replace operation does not apply: doc is missing key: ${path}: missing value`);
        const { parent, key } = parentOf(result, tokens, op, path);
        if (Array.isArray(parent)) parent[arrayIndex(key, parent.length, false, op, path)] = clone(raw.value);
        else parent[key] = clone(raw.value);
        break;
      }
      case 'move': {
        const from = parsePointer(raw.from, op);
        const to = parsePointer(raw.path, op);
        const fromPath = typeof raw.from === 'string' ? raw.from : '';
        if (to.length > from.length && from.every((t, i) => to[i] === t)) {
          throw new PatchError(422, `move operation does not apply: ${path} is a child of ${fromPath}`);
        }
        if (lookup(result, from) === MISSING) throw new PatchError(422, `move operation does not apply: doc is missing from path: ${fromPath}: missing value`);
        const value = remove(result, from, op, fromPath);
        result = add(result, to, value, path);
        break;
      }
      case 'copy': {
        const from = parsePointer(raw.from, op);
        const value = lookup(result, from);
        if (value === MISSING) throw new PatchError(422, `copy operation does not apply: doc is missing from path: ${String(raw.from)}: missing value`);
        result = add(result, parsePointer(raw.path, op), clone(value), path);
        break;
      }
      case 'test': {
        const value = lookup(result, parsePointer(raw.path, op));
        if (value === MISSING || !deepEqual(value, raw.value)) throw new PatchError(422, `testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw new PatchError(422, `Unexpected kind: ${String(op)}`);
    }
  }
  return result;
}
