import { createScimToken } from '../../src/scim/scim-tokens.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { TestApp } from '../support/test-app.js';

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface ScimReply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions read arbitrary SCIM JSON
  body: any;
  headers: Headers;
}

export interface ScimTenant {
  t: TenantCtx;
  token: string;
  tokenId: string;
  base: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ScimReply>;
  createUser(userName: string, extra?: Record<string, unknown>): Promise<{ id: string } & Record<string, unknown>>;
  createGroup(displayName: string, members?: string[]): Promise<{ id: string } & Record<string, unknown>>;
  patch(path: string, operations: unknown[]): Promise<ScimReply>;
}

/** A fresh tenant with a SCIM token, and a small client speaking to the real app over HTTP. */
export async function scimTenant(app: TestApp, slug?: string): Promise<ScimTenant> {
  const t = await app.createTenant(slug);
  const created = await createScimToken(t, app.url);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${created.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${created.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  const must = (r: ScimReply, status: number) => {
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    t,
    token: created.token,
    tokenId: created.id,
    base: created.baseUrl,
    call,
    createUser: async (userName, extra = {}) =>
      must(await call('POST', '/Users', { schemas: [USER], userName, active: true, ...extra }), 201),
    createGroup: async (displayName, members = []) =>
      must(await call('POST', '/Groups', { schemas: [GROUP], displayName, members: members.map((value) => ({ value })) }), 201),
    patch: (path, operations) => call('PATCH', path, { schemas: [PATCH_OP], Operations: operations }),
  };
}
