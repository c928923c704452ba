/** One field of an upstream tool that changed after approval (tool-poisoning guard, docs/tools.md). */
export interface ToolFieldChange {
  field: 'description' | 'inputSchema' | 'annotations';
  before: unknown;
  after: unknown;
}

export interface ToolFields {
  description: string | null;
  inputSchema: unknown;
  annotations: unknown;
}

/** JSON with sorted keys: the same schema listed with its keys in another order is no change. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** The fields that differ between what was approved and what the upstream lists now. */
export function toolChanges(before: ToolFields, after: ToolFields): ToolFieldChange[] {
  const changes: ToolFieldChange[] = [];
  for (const field of ['description', 'inputSchema', 'annotations'] as const) {
    if (canonicalJson(before[field]) !== canonicalJson(after[field])) changes.push({ field, before: before[field], after: after[field] });
  }
  return changes;
}

const lines = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(JSON.parse(canonicalJson(v)), null, 2) ?? 'null')).split('\n');

/**
 * A line diff of one change for the admin (`-` removed, `+` added, two spaces kept), from the longest common
 * subsequence of the lines: descriptions and schemas are short, so the quadratic table is small. Bounded anyway.
 */
export function diffLines(change: ToolFieldChange, maxLines = 400): string[] {
  const a = lines(change.before).slice(0, maxLines);
  const b = lines(change.after).slice(0, maxLines);
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: string[] = [`--- ${change.field} (approved)`, `+++ ${change.field} (now listed by the upstream)`];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}
