import type { Mapping } from '../connections/connection-config.js';

/** What one successful IdP login tells us about the user, whatever the protocol. */
export interface SsoProfile {
  /** SAML NameID or OIDC `sub`: the only stable key of the user at this IdP. */
  subject: string;
  email?: string;
  /** False only when the IdP says so (OIDC `email_verified`): such an e-mail links and changes nothing. */
  emailVerified?: boolean;
  displayName?: string;
  givenName?: string;
  familyName?: string;
  /** Undefined when the IdP sent no group information: memberships are then left alone. */
  groups?: string[];
}

type Attrs = Record<string, unknown>;

const strings = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String);

function first(attrs: Attrs, names: string[]): string | undefined {
  for (const n of names) {
    const v = strings(attrs[n]).map((x) => x.trim()).find(Boolean);
    if (v) return v;
  }
  return undefined;
}

const MAX_GROUPS = 1000;
const EMAIL = /^[^\s@<>()"]+@[^\s@<>()"]+\.[^\s@<>()"]+$/;

/**
 * Maps IdP attributes (SAML) or claims (OIDC) to a profile: per field, the connection's names first, then the
 * defaults for the protocol. An e-mail that does not look like one is dropped rather than trusted.
 */
export function mapProfile(subject: string, attrs: Attrs, defaults: Required<Mapping>, custom: Mapping, fallbackEmail?: string): SsoProfile {
  const names = (k: keyof Mapping) => [...(custom[k] ?? []), ...defaults[k]];
  const emailRaw = first(attrs, names('email')) ?? fallbackEmail;
  const email = emailRaw && EMAIL.test(emailRaw) ? emailRaw.toLowerCase() : undefined;
  const givenName = first(attrs, names('givenName'));
  const familyName = first(attrs, names('familyName'));
  const displayName = first(attrs, names('displayName')) ?? ([givenName, familyName].filter(Boolean).join(' ') || undefined);
  const groupKey = names('groups').find((n) => attrs[n] !== undefined);
  // Capped: a group per row is created for JIT, and no real user is in thousands of groups the IdP chose to send.
  const groups = groupKey ? [...new Set(strings(attrs[groupKey]).map((g) => g.trim().slice(0, 256)).filter(Boolean))].slice(0, MAX_GROUPS) : undefined;
  // OIDC Core §5.1: `email_verified` false means the IdP did not verify the address. Some IdPs send it as a string.
  const verifiedClaim = attrs.email_verified;
  const emailVerified = verifiedClaim === false || String(verifiedClaim).toLowerCase() === 'false' ? false : undefined;
  return { subject, email, ...(emailVerified === false && { emailVerified }), displayName, givenName, familyName, groups };
}

export const emailDomain = (email: string | undefined) => email?.split('@')[1]?.toLowerCase();
