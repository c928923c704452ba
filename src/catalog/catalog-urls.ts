/**
 * The deployment's URLs the catalogs point at, from the public contract (README, contract.md). `{slug}` stands for
 * the tenant; each catalog writes it in its own variable syntax (tenant-variables.ts). `manifests check` requests each
 * with its method and fails when the server does not answer it.
 */
export const routes = {
  samlMetadata: { method: 'GET', path: '/t/{slug}/saml/metadata' },
  samlAcs: { method: 'POST', path: '/t/{slug}/saml/acs' },
  samlLogin: { method: 'GET', path: '/t/{slug}/saml/login' },
  login: { method: 'GET', path: '/t/{slug}/login' },
  oidcLogin: { method: 'GET', path: '/t/{slug}/oidc/login' },
  oidcCallback: { method: 'GET', path: '/t/{slug}/oidc/callback' },
  scimBase: { method: 'GET', path: '/t/{slug}/scim/v2', probe: '/ServiceProviderConfig', subPaths: true },
  token: { method: 'POST', path: '/t/{slug}/oauth/token' },
  globalTokenRevocation: { method: 'POST', path: '/t/{slug}/global-token-revocation' },
  sharedOidcCallback: { method: 'GET', path: '/oidc/callback' },
  entraStart: { method: 'GET', path: '/onboarding/entra/start' },
  entraCallback: { method: 'GET', path: '/onboarding/entra/callback' },
  googleLaunch: { method: 'GET', path: '/onboarding/google/launch' },
  googleCallback: { method: 'GET', path: '/onboarding/google/callback' },
  signup: { method: 'GET', path: '/signup' },
} as const satisfies Record<string, { method: 'GET' | 'POST'; path: string; probe?: string; subPaths?: boolean }>;

export type RouteName = keyof typeof routes;

/** `base` + the route's path with `{slug}` replaced by `slugExpr` (a catalog's tenant-variable expression). */
export function urlOf(base: string, name: RouteName, slugExpr = '{slug}'): string {
  return `${base}${routes[name].path.replace('{slug}', slugExpr)}`;
}

/**
 * The route a concrete path belongs to (`/t/acme/saml/acs` → samlAcs; SCIM resource paths to the SCIM base), or
 * undefined for a path outside the contract.
 */
export function routeOfPath(path: string): { name: RouteName; spec: (typeof routes)[RouteName]; subPath: boolean } | undefined {
  for (const [name, spec] of Object.entries(routes) as [RouteName, (typeof routes)[RouteName]][]) {
    const sub = 'subPaths' in spec ? '(/[A-Za-z]+)?' : '';
    const pattern = new RegExp(`^${spec.path.replace('{slug}', '[a-z0-9-]+')}${sub}$`);
    const m = pattern.exec(path);
    if (m) return { name, spec, subPath: m[1] !== undefined };
  }
  return undefined;
}
