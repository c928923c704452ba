import { describe, expect, it } from 'vitest';
import { csvField, exportLines, type ExportedEvent } from '../../src/audit/export-events.js';

/** Parses RFC 4180 CSV (quoted fields may hold commas, doubled quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',' || c === '\n') {
      row.push(field);
      field = '';
      if (c === '\n') {
        rows.push(row);
        row = [];
      }
    } else field += c;
  }
  return rows;
}

describe('audit CSV export cells', () => {
  it('quotes commas, quotes and line breaks, and defuses every formula prefix', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(null)).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    for (const evil of ['=1+1', '+1+1', '-1+1', '@SUM(A1)', '\t=1', '\r=1', '=HYPERLINK("http://x","y")']) {
      expect(csvField(evil).replace(/^"/, '').startsWith("'"), evil).toBe(true);
    }
    expect(csvField({ a: '=x' })).toBe('"{""a"":""=x""}"');
  });

  it('keeps one event per row whatever its values hold, and every value round-trips', async () => {
    const e: ExportedEvent = {
      seq: 1, id: 'evt_1', createdAt: '2026-03-01T00:00:00.000Z', actorKind: 'user', actorId: 'usr,1', action: 'scim.user.create',
      targetKind: 'user', targetId: '=cmd|" /C calc"!A0', outcome: 'success', ip: null, userAgent: 'agent\r\nX-Injected: 1, "q"',
      requestId: '@id', detail: { note: 'line\nbreak, "quoted"' }, hash: 'f'.repeat(64),
    };
    async function* one() {
      yield e;
      yield { ...e, seq: 2 };
    }
    const lines: string[] = [];
    for await (const l of exportLines(one(), 'csv')) lines.push(l);
    const rows = parseCsv(`${lines.join('\n')}\n`);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveLength(14);
    const [, first] = rows;
    expect(first![4]).toBe('usr,1');
    expect(first![7]).toBe(`'=cmd|" /C calc"!A0`);
    expect(first![10]).toBe('agent\r\nX-Injected: 1, "q"');
    expect(first![11]).toBe("'@id");
    expect(JSON.parse(first![12]!)).toEqual(e.detail);
    expect(rows[2]![0]).toBe('2');
  });
});
