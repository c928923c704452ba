import { beforeEach, describe, expect, it } from 'vitest';
import type { ConnectorToolCall } from '../../src/connectors/connector-tool.js';
import { emailDomain } from '../../src/connectors/google/google-config.js';
import { googleTool, GoogleToolFailure, type GoogleSession } from '../../src/connectors/google/google-call.js';
import { GoogleTokenError } from '../../src/connectors/google/google-token.js';

/**
 * The mapping from our user to the Google identity a Google tool impersonates (domain-wide delegation), each guard on
 * its own (issue 18): only an active user, by their own e-mail, and only in one of the connector's domains. The user
 * table is a stand-in that applies the `where` it is given; the handler records whom it would act as. Google itself
 * is not reached (the token request and API calls are proven in test/connectors against the fake Google).
 */
interface UserRow {
  id: string;
  active: boolean;
  email: string | null;
}
let users: UserRow[];
let audits: Record<string, unknown>[];
let actedAs: string[];

let warnings: unknown[][];
function call(userId: string, signal = new AbortController().signal): ConnectorToolCall {
  return {
    userId,
    clientId: 'client-1',
    signal,
    connector: { id: 'con-1', config: { clientId: 'c', clientEmail: 'sa@x.iam', adminEmail: 'admin@acme.com', domains: ['acme.com', 'acme.de'] } },
    t: {
      id: 'ten-1',
      db: {
        user: {
          findFirst: async ({ where, select }: { where: Record<string, unknown>; select: Record<string, boolean> }) => {
            const u = users.find((x) => Object.entries(where).every(([k, v]) => x[k as keyof UserRow] === v));
            return u ? Object.fromEntries(Object.entries(u).filter(([k]) => select[k])) : null;
          },
        },
      },
    },
    s: { audit: { recordInBackground: async (_t: unknown, e: Record<string, unknown>) => void audits.push(e) }, logger: { warn: (...a: unknown[]) => void warnings.push(a) } },
  } as unknown as ConnectorToolCall;
}

const tool = googleTool('gmail_search', ['https://www.googleapis.com/auth/gmail.readonly'], async (g: GoogleSession) => {
  actedAs.push(g.subject);
  expect(g.scopes).toEqual(['https://www.googleapis.com/auth/gmail.readonly']);
  return { content: [{ type: 'text', text: 'ok' }] };
});
const run = async (userId: string) => {
  const r = await tool(call(userId), {});
  return { error: r.isError === true, text: (r.content[0] as { text: string }).text };
};

beforeEach(() => {
  users = [];
  audits = [];
  actedAs = [];
  warnings = [];
});

describe('Google tools: whom we act as', () => {
  it('an active user of a connector domain: their own e-mail, trimmed and lower-cased; audited as the subject', async () => {
    users = [{ id: 'u1', active: true, email: ' Alice@ACME.com ' }, { id: 'u2', active: true, email: 'bob@acme.de' }];
    expect(await run('u1')).toEqual({ error: false, text: 'ok' });
    expect(await run('u2')).toEqual({ error: false, text: 'ok' });
    expect(actedAs).toEqual(['alice@acme.com', 'bob@acme.de']);
    expect(audits[0]).toEqual({
      actor: { kind: 'user', id: 'u1' },
      action: 'connector.google.call',
      target: { kind: 'connector', id: 'con-1' },
      outcome: 'success',
      detail: { tool: 'gmail_search', clientId: 'client-1', subject: 'alice@acme.com', methods: [] },
    });
  });

  it('an inactive user is nobody (a deprovisioned user keeps no Google access through a live token)', async () => {
    users = [{ id: 'u1', active: false, email: 'alice@acme.com' }];
    const r = await run('u1');
    expect(r.error).toBe(true);
    expect(r.text).toContain('Your account (no e-mail) is not in this organisation');
    expect(actedAs).toEqual([]);
    expect(audits[0]).toMatchObject({ outcome: 'failure', detail: { subject: '', error: 'identity_unmapped', methods: [] } });
  });

  it('another user’s row is never used (the lookup is by the caller’s id)', async () => {
    users = [{ id: 'u2', active: true, email: 'bob@acme.com' }];
    expect((await run('u1')).error).toBe(true);
    expect(actedAs).toEqual([]);
  });

  it('a user without an e-mail, or with an empty one', async () => {
    users = [{ id: 'u1', active: true, email: null }, { id: 'u2', active: true, email: '   ' }];
    for (const id of ['u1', 'u2']) expect(await run(id)).toMatchObject({ error: true, text: expect.stringContaining('(no e-mail)') });
    expect(actedAs).toEqual([]);
  });

  it('an e-mail outside the connector domains: another organisation, a subdomain, a suffix trick, no domain', async () => {
    const emails = ['eve@evil.com', 'eve@sub.acme.com', 'eve@acme.com.evil.com', 'eve@evil.com@x', 'acme.com', 'eve@'];
    users = emails.map((email, i) => ({ id: `u${i}`, active: true, email }));
    for (const [i, email] of emails.entries()) {
      const r = await run(`u${i}`);
      expect(r.error).toBe(true);
      expect(r.text).toBe(`Your account (${email}) is not in this organisation's Google Workspace domains (acme.com, acme.de), so Google tools cannot act for you.`);
    }
    expect(actedAs).toEqual([]);
    expect(audits.every((a) => (a.detail as { error?: string }).error === 'identity_unmapped')).toBe(true);
  });

  it('emailDomain: after the last @, lower-cased; empty without one', () => {
    expect(emailDomain('a@B.com')).toBe('b.com');
    expect(emailDomain('a@evil.com@acme.com')).toBe('acme.com');
    expect(emailDomain('acme.com')).toBe('');
    expect(emailDomain('a@')).toBe('');
  });

  it('a failure inside the tool is a tool error, audited with the methods used; unexpected errors are logged briefly', async () => {
    users = [{ id: 'u1', active: true, email: 'alice@acme.com' }];
    const failing = (err: unknown) =>
      googleTool('gmail_search', ['s'], async (g) => {
        g.methods.push('gmail.users.messages.list');
        throw err;
      });
    const r1 = await failing(new GoogleToolFailure('not_found', 'Not found in Google.'))(call('u1'), {});
    expect([r1.isError, (r1.content[0] as { text: string }).text]).toEqual([true, 'Not found in Google.']);
    expect(audits[0]).toMatchObject({ outcome: 'failure', detail: { subject: 'alice@acme.com', methods: ['gmail.users.messages.list'], error: 'not_found' } });
    const r2 = await failing(new GoogleTokenError('unauthorized_client', 401, 'Client is unauthorized'))(call('u1'), {});
    expect((r2.content[0] as { text: string }).text).toContain('has not granted this tool');
    expect(audits[1]).toMatchObject({ detail: { error: 'delegation_missing' } });
    expect(warnings).toEqual([]);
    const r3 = await failing(new Error('x'.repeat(400)))(call('u1'), {});
    expect([r3.isError, (r3.content[0] as { text: string }).text]).toEqual([true, 'The Google tool failed unexpectedly. Try again later.']);
    expect(audits[2]).toMatchObject({ outcome: 'failure', detail: { error: 'internal' } });
    expect(warnings).toEqual([[{ tenantId: 'ten-1', tool: 'gmail_search', err: `Error: ${'x'.repeat(293)}` }, 'google tool failed']]);
    const aborted = new AbortController();
    aborted.abort();
    const r4 = await failing(new Error('aborted'))(call('u1', aborted.signal), {});
    expect((r4.content[0] as { text: string }).text).toBe('The call was cancelled.');
  });
});
