/**
 * Label and field selectors as the apiserver parses them from `labelSelector` and
 * `fieldSelector`. The fake filters with them on lists and on every watch event, so an
 * informer scoped to `spec.nodeName=node-a` sees exactly what it would on a real cluster.
 */

/** A selector string that does not parse, or names a field the resource does not index. */
export class SelectorError extends Error {}

type LabelOp = 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EXISTS_RE = new RegExp(String.raw`^(!?)\s*(${KEY})$`);
const SET_RE = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\((.*)\)$`);
const EQ_RE = new RegExp(String.raw`^(${KEY})\s*(==|=|!=|>|<)\s*(.*)$`);
const VALUE_RE = new RegExp(`^${VALUE}$`);

/** Split on commas that are not inside parentheses. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.map((p) => p.trim());
}

function checkValue(value: string, part: string): string {
  if (!VALUE_RE.test(value)) throw new SelectorError(`unable to parse requirement: invalid label value: ${JSON.stringify(value)} in ${JSON.stringify(part)}`);
  return value;
}

function parseLabelRequirement(part: string): LabelRequirement {
  const exists = EXISTS_RE.exec(part);
  if (exists) return { key: exists[2] ?? '', op: exists[1] === '!' ? '!exists' : 'exists', values: [] };
  const set = SET_RE.exec(part);
  if (set) {
    const values = (set[4] ?? '').split(',').map((v) => checkValue(v.trim(), part));
    return { key: set[1] ?? '', op: set[3] === 'in' ? 'in' : 'notin', values };
  }
  const eq = EQ_RE.exec(part);
  if (eq) {
    const key = eq[1] ?? '';
    const value = checkValue((eq[4] ?? '').trim(), part);
    const op = eq[3];
    if (op === '>' || op === '<') {
      if (!/^-?[0-9]+$/.test(value)) throw new SelectorError(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: ${JSON.stringify(part)}`);
      return { key, op: op === '>' ? 'gt' : 'lt', values: [value] };
    }
    return { key, op: op === '!=' ? '!=' : '=', values: [value] };
  }
  throw new SelectorError(`unable to parse requirement: ${JSON.stringify(part)}`);
}

/** A parsed label selector; an empty string selects everything. */
export class LabelSelector {
  private readonly requirements: LabelRequirement[];

  private constructor(requirements: LabelRequirement[]) {
    this.requirements = requirements;
  }

  /** Parse `a=b,c!=d,e,!f,g in (x,y),h notin (z),n>3`. Throws SelectorError. */
  static parse(selector: string): LabelSelector {
    if (selector.trim() === '') return new LabelSelector([]);
    return new LabelSelector(splitTopLevel(selector).map(parseLabelRequirement));
  }

  /** Whether an object with these labels is selected (absent labels: `!=` and `notin` match). */
  matches(labels: Readonly<Record<string, unknown>> | undefined): boolean {
    return this.requirements.every(({ key, op, values }) => {
      const has = labels !== undefined && Object.hasOwn(labels, key);
      const value = has ? String(labels[key]) : undefined;
      switch (op) {
        case 'exists':
          return has;
        case '!exists':
          return !has;
        case '=':
        case 'in':
          return value !== undefined && values.includes(value);
        case '!=':
        case 'notin':
          return value === undefined || !values.includes(value);
        case 'gt':
        case 'lt': {
          if (value === undefined || !/^-?[0-9]+$/.test(value)) return false;
          const n = Number(value);
          const bound = Number(values[0]);
          return op === 'gt' ? n > bound : n < bound;
        }
      }
    });
  }
}

/** Split on unescaped commas, then the first unescaped operator; `\,` `\=` `\\` are escapes. */
function parseFieldRequirements(selector: string): FieldRequirement[] {
  const terms: string[] = [];
  let current = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i] ?? '';
    if (c === '\\' && i + 1 < selector.length) {
      current += c + (selector[i + 1] ?? '');
      i++;
    } else if (c === ',') {
      terms.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  terms.push(current);
  return terms.map((term) => {
    for (let i = 0; i < term.length; i++) {
      if (term[i] === '\\') {
        i++;
        continue;
      }
      for (const [token, op] of [['!=', '!='], ['==', '='], ['=', '=']] as const) {
        if (term.startsWith(token, i)) {
          return { field: unescapeField(term.slice(0, i)).trim(), op, value: unescapeField(term.slice(i + token.length)) };
        }
      }
    }
    throw new SelectorError(`invalid selector: '${selector}'; can't understand '${term}'`);
  });
}

function unescapeField(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/** A parsed field selector over the fields a resource indexes. */
export class FieldSelector {
  private readonly requirements: FieldRequirement[];

  private constructor(requirements: FieldRequirement[]) {
    this.requirements = requirements;
  }

  /**
   * Parse `a=b,c!=d` (also `==`). `supported` lists the fields the resource can select on;
   * `unsupported` builds the message for any other, which differs between built-in and
   * custom resources on the real server. Throws SelectorError.
   */
  static parse(selector: string, supported: readonly string[], unsupported: (field: string) => string): FieldSelector {
    if (selector.trim() === '') return new FieldSelector([]);
    const requirements = parseFieldRequirements(selector);
    for (const r of requirements) if (!supported.includes(r.field)) throw new SelectorError(unsupported(r.field));
    return new FieldSelector(requirements);
  }

  /** Whether the object is selected; `field(name)` gives its value ('' when unset). */
  matches(field: (name: string) => string): boolean {
    return this.requirements.every((r) => (field(r.field) === r.value) === (r.op === '='));
  }
}
