import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { microsoftTool } from './microsoft-tool.js';
import { int, nullableStr, object, readOnly, seg, str } from './graph-schema.js';

interface GraphUser {
  id?: string;
  displayName?: string | null;
  mail?: string | null;
  userPrincipalName?: string;
  jobTitle?: string | null;
  department?: string | null;
  officeLocation?: string | null;
}

const person = object(
  { id: str(''), name: nullableStr, mail: nullableStr, jobTitle: nullableStr, department: nullableStr, office: nullableStr, manager: nullableStr },
  ['id', 'name', 'mail', 'jobTitle', 'manager'],
);

const peopleLookup: ConnectorTool = {
  name: 'microsoft__people_lookup',
  description: "Look up colleagues in your organisation's directory by name or e-mail: name, e-mail, job title, department, office and manager.",
  inputSchema: object({ query: str('Name, or the start of an e-mail address', { minLength: 1, maxLength: 200, pattern: '^[^"\\\\]+$' }), maxResults: int('People to return', 1, 10, 5) }, ['query']),
  outputSchema: object({ people: { type: 'array', items: person } }, ['people']),
  annotations: readOnly('Look up a colleague'),
  run: microsoftTool('microsoft__people_lookup', async (g, a) => {
    const q = String(a.query).trim();
    if (!q) throw new MicrosoftToolFailure('bad_request', 'Give a name or e-mail to look up.');
    const max = Number(a.maxResults ?? 5);
    // Directory $search needs ConsistencyLevel: eventual (advanced queries on directory objects).
    const { items } = await g.pages<GraphUser>('GET /users?$search', {
      path: '/users',
      query: { $search: `"displayName:${q}" OR "mail:${q}"`, $select: 'id,displayName,mail,userPrincipalName,jobTitle,department,officeLocation', $top: max },
      headers: { consistencylevel: 'eventual' },
    }, max, 1);
    const people = [];
    for (const u of items) {
      let manager: string | null = null;
      try {
        const m = await g.request<GraphUser>('GET /users/{id}/manager', { path: `/users/${seg(u.id)}/manager`, query: { $select: 'displayName,mail' } });
        manager = m.displayName ? `${m.displayName}${m.mail ? ` <${m.mail}>` : ''}` : (m.mail ?? null);
      } catch (err) {
        // No manager set is a 404, not a failure of the lookup.
        if (!(err instanceof MicrosoftToolFailure && err.failure === 'not_found')) throw err;
      }
      people.push({ id: u.id ?? '', name: u.displayName ?? null, mail: u.mail ?? u.userPrincipalName ?? null, jobTitle: u.jobTitle ?? null, department: u.department ?? null, office: u.officeLocation ?? null, manager });
    }
    const text = people.length ? people.map((p) => `- ${p.name ?? '?'} <${p.mail ?? '?'}> · ${p.jobTitle ?? ''}${p.department ? ` (${p.department})` : ''}${p.manager ? ` · manager: ${p.manager}` : ''}`).join('\n') : 'Nobody matches.';
    return toolResult(text, { people });
  }),
};

export const peopleTools: ConnectorTool[] = [peopleLookup];
