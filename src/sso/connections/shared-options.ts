import { z } from 'zod';
import { MappingSchema } from './connection-config.js';

/** Settings every connection kind takes from `idp add-…`. */
export const CommonConnectionInput = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  allowedDomains: z
    .array(z.string().trim().toLowerCase().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a domain like example.com'))
    .default([]),
  jitEnabled: z.boolean().default(true),
  matchBy: z.enum(['email', 'userName', 'none']).default('email'),
  /** Attribute / claim names tried first for a profile field (the protocol's defaults follow). */
  mapping: MappingSchema.default({}),
});

export type CommonConnectionInput = z.input<typeof CommonConnectionInput>;

/** What `idp list` and `idp add-…` print: never a secret, only whether one is stored. */
export function describeConnection(row: {
  id: string;
  name: string;
  kind: string;
  issuer: string;
  enabled: boolean;
  config: unknown;
  secretId: string | null;
  metadataRefreshedAt: Date | null;
  createdAt: Date;
}) {
  const config = (row.config ?? {}) as Record<string, unknown>;
  const { saml, oidc, ...rest } = config as { saml?: Record<string, unknown>; oidc?: Record<string, unknown> };
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    issuer: row.issuer,
    enabled: row.enabled,
    ...rest,
    ...(saml && {
      metadataUrl: saml.metadataUrl ?? null,
      ssoUrl: saml.ssoUrl,
      signingCertificates: Array.isArray(saml.signingCerts) ? saml.signingCerts.length : 0,
      acceptUnsignedAssertions: saml.acceptUnsignedAssertions === true,
      // Pinned (--metadata-cert), or signed once: every later copy of the metadata must be signed (verify-metadata.ts).
      metadataSignatureRequired: (Array.isArray(saml.metadataCerts) && saml.metadataCerts.length > 0) || saml.metadataSigned === true,
      metadataRefreshedAt: row.metadataRefreshedAt,
      idpInitiated: saml.idpInitiated === true,
    }),
    ...(oidc && { clientId: oidc.clientId, clientAuth: oidc.clientAuth, callback: oidc.callback, requiredClaims: oidc.requiredClaims }),
    hasSecret: row.secretId !== null,
    createdAt: row.createdAt,
  };
}
