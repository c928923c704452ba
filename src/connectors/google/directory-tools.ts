import type { admin_directory_v1 } from 'googleapis';
import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { googleTool } from './google-call.js';
import { emailDomain } from './google-config.js';
import { GOOGLE_TOOL_SCOPES } from './google-scopes.js';
import { int, nullableStr, object, readOnly, str } from './schema-parts.js';

const person = object({ email: str(''), name: nullableStr, title: nullableStr, department: nullableStr, manager: nullableStr, phone: nullableStr }, ['email', 'name', 'title', 'manager']);

const toPerson = (u: admin_directory_v1.Schema$User) => {
  const org = (u.organizations as { title?: string; department?: string; primary?: boolean }[] | undefined)?.find((o) => o.primary) ?? (u.organizations as { title?: string; department?: string }[] | undefined)?.[0];
  const manager = (u.relations as { type?: string; value?: string }[] | undefined)?.find((r) => r.type === 'manager')?.value ?? null;
  const phone = (u.phones as { value?: string; primary?: boolean }[] | undefined)?.find((p) => p.primary)?.value ?? null;
  return { email: (u.primaryEmail ?? '').toLowerCase(), name: u.name?.fullName ?? null, title: org?.title ?? null, department: org?.department ?? null, manager, phone };
};

// Directory search query (Admin SDK "Search for users"): quoted values; quotes and backslashes are removed (the syntax has no escape).
const term = (s: string) => s.replace(/["'\\]/g, '').trim();
// An e-mail prefix is unquoted in the query (`email:jane*`): no whitespace, so it cannot add clauses of its own.
const emailPrefix = (s: string) => s.replace(/[\s"'\\*]/g, '');

export const directoryTools: ConnectorTool[] = [
  {
    name: 'google__directory_lookup',
    description: "Look up a colleague in your organisation's Google directory by name or e-mail: name, e-mail, title, department, manager.",
    inputSchema: object({ query: str('Name, or e-mail address (or its beginning)', { minLength: 2, maxLength: 200 }), maxResults: int('People to return', 1, 20, 5) }, ['query']),
    outputSchema: object({ people: { type: 'array', items: person } }, ['people']),
    annotations: readOnly('Look up a colleague'),
    run: googleTool('google__directory_lookup', GOOGLE_TOOL_SCOPES.google__directory_lookup, async (g, a) => {
      const directory = (await g.googleapis()).admin({ version: 'directory_v1', ...(await g.options()) });
      const q = term(String(a.query));
      // domain_public: what any employee may see of a colleague (the caller is impersonated, not the admin).
      const res = await g.api('admin.directory.users.list', (o) =>
        directory.users.list({ customer: g.config.customerId, viewType: 'domain_public', query: q.includes('@') ? `email:${emailPrefix(q)}*` : `name:'${q}'`, maxResults: Number(a.maxResults ?? 5), projection: 'full' }, o),
      );
      // Only the connector's own domains: a colleague, never an address of another organisation.
      const people = (res.users ?? []).map(toPerson).filter((p) => g.config.domains.includes(emailDomain(p.email)));
      return toolResult(people.map((p) => `- ${p.name ?? p.email} <${p.email}>${p.title ? `, ${p.title}` : ''}${p.manager ? ` (manager: ${p.manager})` : ''}`).join('\n') || 'Nobody found.', { people });
    }),
  },
];
