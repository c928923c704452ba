import { badRequest, notFound } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { CommonConnectionInput, describeConnection } from './shared-options.js';

export interface ConnectionPatch {
  name?: string;
  enabled?: boolean;
  jitEnabled?: boolean;
  allowedDomains?: string[];
  matchBy?: 'email' | 'userName' | 'none';
  mapping?: Record<string, string[]>;
  /** Trust this OIDC connection's IdP as an ID-JAG issuer (docs/cross-app-access.md). */
  idJag?: boolean;
  /** SAML only: accept IdP-initiated responses (dashboard tiles). */
  idpInitiated?: boolean;
  /** SAML only: accept a signed Response whose assertion is unsigned (see connection-config.ts). */
  acceptUnsignedAssertions?: boolean;
}

/** `idp update`: changes only what is given (e.g. turn JIT off once SCIM provisions the users). */
export async function updateConnection(s: Services, t: TenantCtx, id: string, patch: ConnectionPatch) {
  const row = await t.db.idpConnection.findFirst({ where: { id } });
  if (!row) throw notFound(`No IdP connection ${id}`);
  const current = (row.config ?? {}) as Record<string, unknown>;
  // ID-JAG keys come from OIDC discovery (jwks_uri): a SAML IdP has none to verify a JWT with.
  if (patch.idJag && row.kind !== 'oidc') throw badRequest('--id-jag applies to OIDC connections only');
  if (patch.idpInitiated !== undefined && row.kind !== 'saml') throw badRequest('--idp-initiated applies to SAML connections only');
  // Validate only what was given: defaults must not overwrite settings the admin did not mention.
  const shape = CommonConnectionInput.shape;
  const checked = {
    name: patch.name === undefined ? undefined : shape.name.parse(patch.name),
    allowedDomains: patch.allowedDomains === undefined ? undefined : shape.allowedDomains.parse(patch.allowedDomains),
    jitEnabled: patch.jitEnabled,
    matchBy: patch.matchBy === undefined ? undefined : shape.matchBy.parse(patch.matchBy),
    mapping: patch.mapping === undefined ? undefined : shape.mapping.parse(patch.mapping),
  };
  const config = {
    ...current,
    ...(checked.allowedDomains && { allowedDomains: checked.allowedDomains }),
    ...(checked.jitEnabled !== undefined && { jitEnabled: checked.jitEnabled }),
    ...(checked.matchBy && { matchBy: checked.matchBy }),
    ...(checked.mapping && { mapping: checked.mapping }),
    ...(patch.idJag !== undefined && { idJag: patch.idJag }),
    ...samlPatch(row.kind, current.saml, patch),
  };
  await t.db.idpConnection.updateMany({
    where: { id },
    data: { config, ...(checked.name && { name: checked.name }), ...(patch.enabled !== undefined && { enabled: patch.enabled }), updatedAt: s.clock.now() },
  });
  return describeConnection((await t.db.idpConnection.findFirst({ where: { id } }))!);
}

function samlPatch(kind: string, saml: unknown, patch: ConnectionPatch) {
  const { acceptUnsignedAssertions, idpInitiated } = patch;
  if (acceptUnsignedAssertions === undefined && idpInitiated === undefined) return {};
  if (kind !== 'saml') throw badRequest(`--${acceptUnsignedAssertions !== undefined ? 'accept-unsigned-assertions' : 'idp-initiated'} applies to SAML connections only`);
  return {
    saml: {
      ...(saml as object),
      ...(acceptUnsignedAssertions !== undefined && { acceptUnsignedAssertions }),
      ...(idpInitiated !== undefined && { idpInitiated }),
    },
  };
}
