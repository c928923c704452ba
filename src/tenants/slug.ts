import { z } from 'zod';

/**
 * Words that cannot be slugs: they name our own routes, well-known paths or are easily confused with the product.
 * A slug appears in `/t/{slug}/…`, in IdP configuration and in MCP client settings.
 */
export const reservedSlugs = new Set([
  'admin', 'api', 'app', 'apps', 'assets', 'auth', 'callback', 'cli', 'console', 'dashboard', 'default', 'docs',
  'healthz', 'help', 'internal', 'login', 'logout', 'mcp', 'metrics', 'new', 'oauth', 'oidc', 'public', 'readyz',
  'root', 'saml', 'scim', 'settings', 'signin', 'signup', 'sso', 'static', 'status', 'support', 'system', 'tenant',
  'tenants', 'test', 'well-known', 'www',
]);

export const SlugSchema = z
  .string()
  .min(3, 'slug must be 3 to 40 characters')
  .max(40, 'slug must be 3 to 40 characters')
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'slug may contain lowercase letters, digits and single dashes between them')
  .refine((s) => !reservedSlugs.has(s), { message: 'slug is a reserved word' });

/** Cheap pre-check used at the edge before touching the database. */
export const looksLikeSlug = (s: string) => s.length >= 3 && s.length <= 40 && /^[a-z0-9-]+$/.test(s);
