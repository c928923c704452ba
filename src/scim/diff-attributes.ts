import { isObject, type Json, type JsonObject } from './canonicalize.js';

/**
 * Names of the attributes whose value differs between two stored documents (extension attributes as `urn:attr`).
 * Only names go to the audit log, never values.
 */
export function changedAttributeNames(before: JsonObject, after: JsonObject): string[] {
  const names: string[] = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    const a = before[k];
    const b = after[k];
    if (/^urn:/i.test(k) && (isObject(a) || isObject(b))) {
      const inner = changedAttributeNames(isObject(a) ? a : {}, isObject(b) ? b : {});
      names.push(...inner.map((n) => `${k}:${n}`));
    } else if (!sameJson(a, b)) names.push(k);
  }
  return names.sort();
}

/** Deep equality that ignores key order (jsonb does not keep it). */
export function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  return stable(a) === stable(b);
}

function stable(v: Json | undefined): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
