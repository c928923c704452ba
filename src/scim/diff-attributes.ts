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

/**
 * Deep equality that ignores key order (jsonb does not keep it); a missing value equals null, as in JSON. Compared in
 * place: every PATCH compares whole documents twice and every create names its attributes through here, and building
 * a sorted string of each side (as before) was among the largest self times of our SCIM code in a CPU profile.
 */
export function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  const x = a ?? null;
  const y = b ?? null;
  if (Array.isArray(x)) return Array.isArray(y) && x.length === y.length && x.every((v, i) => sameJson(v, y[i]));
  if (isObject(x)) {
    if (!isObject(y)) return false;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    return keys.every((k) => Object.hasOwn(y, k) && sameJson(x[k], y[k]));
  }
  return !Array.isArray(y) && !isObject(y) && x === y;
}
