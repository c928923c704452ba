import { scimBadRequest } from './scim-error.js';

/**
 * Deepest nesting a SCIM document may have. The deepest attribute the schemas describe is three levels down
 * (`urn:…:enterprise:2.0:User` → `manager` → `value`); undescribed extensions get room, not unbounded recursion
 * (JSON.stringify and the PATCH engine recurse, and a 10 kB body can nest thousands of levels).
 */
export const MAX_SCIM_DEPTH = 32;

/** Names that reach an object's prototype when a library walks a path or assigns a key (prototype pollution). */
const PROTOTYPE_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Whether an attribute name or PATCH path names a prototype in any of its parts. Quoted filter values are left out
 * (`members[display eq "prototype team"]` names no attribute), every other run of identifier characters is a part:
 * `urn:x:y:__proto__.k`, `name.constructor`, `emails[__proto__ eq "x"]`.
 */
export function namesPrototype(name: string): boolean {
  const unquoted = name.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const part of unquoted.split(/[^A-Za-z0-9_$]+/)) if (PROTOTYPE_NAMES.has(part.toLowerCase())) return true;
  return false;
}

/**
 * Refuses a client's SCIM document (a resource, or a PatchOp message with its values) that nests deeper than
 * MAX_SCIM_DEPTH or has a key naming a prototype anywhere — keys are attribute names here, and scim-patch follows
 * dotted keys of a value (`{"__proto__.x": …}`) into `Object.prototype`, which every tenant's requests share.
 * Iterative, so the check itself cannot overflow the stack.
 */
export function checkScimDocument(body: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value: body, depth: 1 }];
  while (stack.length) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_SCIM_DEPTH) throw scimBadRequest('invalidValue', `The document nests deeper than ${MAX_SCIM_DEPTH} levels`);
    if (Array.isArray(value)) {
      for (const item of value) stack.push({ value: item, depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(value)) {
      if (namesPrototype(key)) throw scimBadRequest('invalidValue', `"${key.slice(0, 100)}" is not an attribute name`);
      stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1 });
    }
  }
}
