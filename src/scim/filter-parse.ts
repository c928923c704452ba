import { scimBadRequest } from './scim-error.js';

/** RFC 7644 §3.4.2.2 filter AST, plus Entra's `attr[filter].sub op value` form (a value path with a tail). */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type FilterValue = string | number | boolean | null;
export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; expr: FilterNode }
  | { kind: 'compare'; path: string; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: string }
  /** `path[filter]`: `filter` holds for ONE element of the multi-valued attribute `path`. */
  | { kind: 'valuePath'; path: string; filter: FilterNode };

type Token = { t: '(' | ')' | '[' | ']' | 'word' | 'string' | 'number' | 'sub'; v: string };

const compareOps = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
export const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 32;

const invalid = (detail: string) => scimBadRequest('invalidFilter', detail);

// An attribute path: ATTRNAME / URN-qualified name (colons, dots as in `2.0`), RFC 7644 §3.4.2.2 ABNF.
const WORD = /[A-Za-z$][A-Za-z0-9_$:.-]*/y;
const SUB = /\.[A-Za-z$][A-Za-z0-9_$-]*/y;
// JSON string literal; control characters are refused by JSON.parse below.
const STRING = /"(?:[^"\\]|\\.)*"/y;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const at = (re: RegExp) => {
    re.lastIndex = i;
    const m = re.exec(src);
    return m ? m[0] : null;
  };
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if ('()[]'.includes(ch)) {
      out.push({ t: ch as Token['t'], v: ch });
      i++;
      continue;
    }
    let m: string | null;
    if (ch === '"' && (m = at(STRING))) {
      let v: unknown;
      try {
        v = JSON.parse(m);
      } catch {
        throw invalid('Malformed string literal in filter');
      }
      out.push({ t: 'string', v: v as string });
    } else if (ch === '.' && out.at(-1)?.t === ']' && (m = at(SUB))) out.push({ t: 'sub', v: m.slice(1) });
    else if ((m = at(NUMBER))) out.push({ t: 'number', v: m });
    else if ((m = at(WORD))) out.push({ t: 'word', v: m });
    else throw invalid(`Unexpected character at position ${i + 1} of the filter`);
    i += m.length;
  }
  return out;
}

/** Parses a filter; every malformed filter is a 400 invalidFilter (never ignored). */
export function parseFilter(src: string): FilterNode {
  if (src.length > MAX_FILTER_LENGTH) throw invalid('Filter is too long');
  const tokens = tokenize(src);
  let pos = 0;
  let depth = 0;
  const peek = () => tokens[pos];
  const isWord = (w: string) => peek()?.t === 'word' && peek()!.v.toLowerCase() === w;
  const expect = (t: Token['t']) => {
    const tok = tokens[pos++];
    if (tok?.t !== t) throw invalid(`Expected "${t}" in filter`);
    return tok;
  };

  function parseOr(inValue: boolean): FilterNode {
    if (++depth > MAX_DEPTH) throw invalid('Filter is nested too deeply');
    let left = parseAnd(inValue);
    while (isWord('or')) {
      pos++;
      left = { kind: 'or', left, right: parseAnd(inValue) };
    }
    depth--;
    return left;
  }
  function parseAnd(inValue: boolean): FilterNode {
    let left = parseUnary(inValue);
    while (isWord('and')) {
      pos++;
      left = { kind: 'and', left, right: parseUnary(inValue) };
    }
    return left;
  }
  function parseUnary(inValue: boolean): FilterNode {
    if (isWord('not') && tokens[pos + 1]?.t === '(') {
      pos += 2;
      const expr = parseOr(inValue);
      expect(')');
      return { kind: 'not', expr };
    }
    if (peek()?.t === '(') {
      pos++;
      const expr = parseOr(inValue);
      expect(')');
      return expr;
    }
    return parseAttrExp(inValue);
  }
  function parseAttrExp(inValue: boolean): FilterNode {
    const path = expect('word').v;
    if (peek()?.t === '[') {
      if (inValue) throw invalid('Value filters cannot be nested');
      pos++;
      const inner = parseOr(true);
      expect(']');
      const tail = peek()?.t === 'sub' ? tokens[pos++]!.v : null;
      if (tail === null) return { kind: 'valuePath', path, filter: inner };
      // Entra: emails[type eq "work"].value eq "x" — both conditions on the SAME element.
      return { kind: 'valuePath', path, filter: { kind: 'and', left: inner, right: parseComparison(tail) } };
    }
    return parseComparison(path);
  }
  function parseComparison(path: string): FilterNode {
    const opTok = expect('word');
    const op = opTok.v.toLowerCase();
    if (op === 'pr') return { kind: 'present', path };
    if (!compareOps.has(op)) throw invalid(`Unknown filter operator "${opTok.v}"`);
    return { kind: 'compare', path, op: op as CompareOp, value: parseValue() };
  }
  function parseValue(): FilterValue {
    const tok = tokens[pos++];
    if (!tok) throw invalid('Missing comparison value in filter');
    if (tok.t === 'string') return tok.v;
    if (tok.t === 'number') return Number(tok.v);
    if (tok.t === 'word') {
      const w = tok.v.toLowerCase();
      if (w === 'true' || w === 'false') return w === 'true';
      if (w === 'null') return null;
    }
    throw invalid('Comparison values must be JSON literals (quoted strings, numbers, true, false, null)');
  }

  const node = parseOr(false);
  if (pos !== tokens.length) throw invalid('Unexpected trailing input in filter');
  return node;
}
