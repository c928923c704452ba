import { z } from 'zod';
import { addOidcConnection } from '../../sso/connections/add-oidc-connection.js';
import { addSamlConnection } from '../../sso/connections/add-saml-connection.js';
import { updateConnection } from '../../sso/connections/update-connection.js';
import { parseConnectionConfig } from '../../sso/connections/connection-config.js';
import { defineAction } from './admin-action.js';

const domains = z.array(z.string().trim().max(253)).max(50).default([]);
/** FIELD → attribute names tried first; the per-protocol defaults follow (src/sso/connections/connection-config.ts). */
export const MappingInput = z.partialRecord(z.enum(['email', 'givenName', 'familyName', 'displayName', 'groups']), z.array(z.string().trim().min(1).max(300)).max(10));
const mapping = MappingInput.default({});
const common = {
  name: z.string().trim().max(200).optional().transform((v) => v || undefined),
  allowedDomains: domains,
  jitEnabled: z.boolean().default(true),
  matchBy: z.enum(['email', 'userName', 'none']).default('email'),
  mapping,
};

/**
 * Console/API "Add SAML IdP": metadata by URL or as XML text (an uploaded file's content). Never a server file path:
 * `--metadata-file` is a CLI-only input, read on the operator's own machine.
 */
export const addSamlIdpAction = defineAction({
  name: 'idp.add',
  targetKind: 'idp-connection',
  // Trusting a new IdP lets whoever controls it sign people in.
  sensitive: true,
  input: z
    .object({ ...common, metadataUrl: z.string().trim().max(2048).optional().transform((v) => v || undefined), metadataXml: z.string().max(1_000_000).optional().transform((v) => v?.trim() || undefined) })
    .refine((v) => Boolean(v.metadataUrl) !== Boolean(v.metadataXml), 'give exactly one of a metadata URL or a metadata file'),
  run: (s, t, i) => addSamlConnection(s, t, i),
  detail: (i) => ({ kind: 'saml', metadataUrl: i.metadataUrl ?? null }),
});

export const addOidcIdpAction = defineAction({
  name: 'idp.add',
  targetKind: 'idp-connection',
  sensitive: true,
  input: z.object({
    ...common,
    issuer: z.string().trim().min(1, 'issuer: required').max(2048),
    clientId: z.string().trim().min(1, 'clientId: required').max(500),
    clientSecret: z.string().min(1, 'clientSecret: required').max(4096),
    clientAuth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  }),
  run: (s, t, i) => addOidcConnection(s, t, i),
  detail: (i) => ({ kind: 'oidc', issuer: i.issuer }),
});

/** JSON with object keys sorted: the form and the stored config may list the same mapping in another order. */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

export const updateIdpAction = defineAction({
  name: 'idp.update',
  targetKind: 'idp-connection',
  // A change that lets more people sign in, or changes which account an identity links to — switching the connection,
  // JIT or IdP-initiated sign-in on, its domains, matching rule or attribute mapping — needs a fresh sign-in, as
  // adding the IdP does. The form sends every field: only a changed value counts; a rename or switching off does not.
  sensitive: async (i, t) => {
    const row = await t.db.idpConnection.findFirst({ where: { id: i.id }, select: { enabled: true, config: true } });
    if (!row) return false;
    const c = parseConnectionConfig(row.config);
    const turnsOn = (wanted: boolean | undefined, now: boolean) => wanted === true && !now;
    const differs = (wanted: unknown, now: unknown) => wanted !== undefined && canonicalJson(wanted) !== canonicalJson(now);
    return (
      turnsOn(i.enabled, row.enabled) || turnsOn(i.jitEnabled, c.jitEnabled) || turnsOn(i.idpInitiated, c.saml?.idpInitiated ?? false) ||
      differs(i.allowedDomains, c.allowedDomains) || differs(i.matchBy, c.matchBy) || differs(i.mapping, c.mapping)
    );
  },
  input: z.object({
    id: z.string().trim().min(1).max(100),
    name: z.string().trim().min(1).max(200).optional(),
    enabled: z.boolean().optional(),
    jitEnabled: z.boolean().optional(),
    allowedDomains: z.array(z.string().trim().max(253)).max(50).optional(),
    matchBy: z.enum(['email', 'userName', 'none']).optional(),
    mapping: mapping.optional(),
    idpInitiated: z.boolean().optional(),
  }),
  run: (s, t, { id, ...patch }) => updateConnection(s, t, id, patch),
  detail: (i) => ({ changed: Object.keys(i).filter((k) => k !== 'id') }),
});
