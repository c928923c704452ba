import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Statement } from '../../src/db/hot-sql.js';
import { TENANT_AND_TOKEN, TOKEN, TOKEN_AND_CATALOGUE } from '../../src/mcp/cold-read.js';
import { SIGNING_KEYS_OWNER } from '../../src/oauth/signing-keys.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

/**
 * The MCP cold read's statements are prepared once per pooled connection (hot-sql.ts); PostgreSQL plans a prepared
 * statement's first five executions for their parameters and then keeps its generic plan, unless that costs more
 * than those custom plans did. A parameter that switches a subquery off made the custom plans cheaper, so every
 * execution was planned again: ~1 ms with 200 approved tools, more than running the statement (issue 17 §2). Each
 * statement sent as the driver sends it, on one connection, then its plan counts read from pg_prepared_statements.
 */
describe.skipIf(!testDbKinds.includes('postgres'))('the cold read is planned once per connection (postgres)', () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let client: pg.Client;
  beforeAll(async () => {
    db = await openTestDatabase('postgres');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Ten tenants the size of the (200 approved upstream tools each, issue 17 §1): on near-empty tables the
    // plans cost too little for PostgreSQL to tell them apart, and it keeps the generic plan either way.
    await client.query(
      `INSERT INTO "Tenant" ("id", "slug", "name", "updatedAt") SELECT 'ten_' || n, 'acme' || n, 'Acme', now() FROM generate_series(0, 9) AS n`,
    );
    await client.query(
      `INSERT INTO "Tool" ("id", "tenantId", "name", "kind", "description", "inputSchema", "approved", "everyone", "updatedAt")
       SELECT 'tool_' || n || '_' || i, 'ten_' || n, 'up__tool_' || lpad(i::text, 3, '0'), 'upstream', repeat('Does one thing well. ', 8),
              '{"type":"object","properties":{"text":{"type":"string","description":"What to send"}},"required":["text"]}'::jsonb,
              true, i <= 20, now()
         FROM generate_series(0, 9) AS n, generate_series(1, 200) AS i`,
    );
    await client.query('ANALYZE');
  });
  afterAll(async () => {
    await client?.end();
    await db?.close();
  });

  const cases: [string, Statement, unknown[]][] = [
    ['after a tenant-directory miss', TENANT_AND_TOKEN, ['acme0', SIGNING_KEYS_OWNER, 'grt_x', 'usr_x', 'jti_x']],
    ['tenant and catalogue cached', TOKEN, ['ten_0', 'grt_x', 'usr_x', 'jti_x']],
    ['tenant cached, catalogue not', TOKEN_AND_CATALOGUE, ['ten_0', 'grt_x', 'usr_x', 'jti_x']],
  ];

  it.each(cases)('%s: a generic plan after the first five executions', async (_label, s, values) => {
    for (let i = 0; i < 10; i++) await client.query({ name: s.name, text: s.text, values });
    const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
      'SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1',
      [s.name],
    );
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.custom_plans)).toBeLessThanOrEqual(5);
    expect(Number(rows[0]!.generic_plans)).toBe(10 - Number(rows[0]!.custom_plans));
  });
});
