import { z } from 'zod';
import { badRequest, conflict } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { CommonConnectionInput, describeConnection } from './shared-options.js';

const OidcInput = CommonConnectionInput.extend({
  issuer: z.string().url().transform((u) => u.replace(/\/+$/, '')),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  clientAuth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  sharedCallback: z.boolean().default(false),
  requiredClaims: z.record(z.string(), z.string()).default({}),
});

const ENTRA_ISSUER = /^https:\/\/login\.microsoftonline\.com\/([0-9a-f-]{36})\/v2\.0$/i;
/** Entra's multi-tenant issuers (any cloud): every directory's tokens validate against them (openid-client templates `iss`). */
const ENTRA_MULTI_TENANT = /\/(common|organizations|consumers|\{tenantid\})(\/v2\.0)?$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `idp add-oidc`. The client secret goes to the vault. For an Entra tenant-specific issuer the token's `tid` must name
 * that tenant — required so a multi-tenant app registration can never sign a user of another Entra tenant in here.
 */
export async function addOidcConnection(s: Services, t: TenantCtx, input: z.input<typeof OidcInput>) {
  const v = OidcInput.parse(input);
  const requiredClaims = { ...v.requiredClaims };
  const entra = ENTRA_ISSUER.exec(v.issuer);
  if (entra) requiredClaims.tid = entra[1]!.toLowerCase();
  // A multi-tenant issuer with nothing naming the directory would sign in any Entra tenant's user, whose `email`
  // claim its own admins set (nOAuth): refused unless the directory is pinned by its `tid`.
  if (ENTRA_MULTI_TENANT.test(new URL(v.issuer).pathname.replace(/%7b/gi, '{').replace(/%7d/gi, '}')) && !GUID.test(requiredClaims.tid ?? '')) {
    throw badRequest(`${v.issuer} accepts every Microsoft Entra directory: use your tenant's issuer (https://login.microsoftonline.com/<tenant-id>/v2.0), or pin the directory with --require-claim tid=<tenant-id>`);
  }
  if (requiredClaims.tid) requiredClaims.tid = requiredClaims.tid.toLowerCase();
  const id = newId('idp');
  const existing = await t.db.idpConnection.findFirst({ where: { kind: 'oidc', issuer: v.issuer } });
  if (existing) throw conflict(`An OIDC connection for ${v.issuer} already exists`);
  const secretId = await s.vault.put(t, { kind: 'idp-connection', id }, v.clientSecret);
  try {
    const row = await t.db.idpConnection.create({
      data: {
        id,
        tenantId: t.id,
        kind: 'oidc',
        name: v.name ?? v.issuer,
        issuer: v.issuer,
        secretId,
        config: {
          jitEnabled: v.jitEnabled,
          allowedDomains: v.allowedDomains,
          matchBy: v.matchBy,
          mapping: v.mapping,
          oidc: {
            clientId: v.clientId,
            clientAuth: v.clientAuth,
            scopes: ['openid', 'email', 'profile'],
            callback: v.sharedCallback ? 'shared' : 'tenant',
            requiredClaims,
          },
        },
      },
    });
    return describeConnection(row);
  } catch (err) {
    await s.vault.remove(t, secretId);
    if ((err as { code?: string }).code === 'P2002') throw conflict(`An OIDC connection for ${v.issuer} already exists`);
    throw err;
  }
}
