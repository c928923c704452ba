import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import express from 'express';
import Provider, { type Configuration } from 'oidc-provider';

export interface EntraAccount {
  sub: string;
  email: string;
  name?: string;
  /** Directory role template ids (Entra `wids`). */
  wids?: string[];
  /** Overrides the token's `tid` (a token from another directory). */
  tid?: string;
  /** Google-style claims when this directory plays Google's issuer (`hd`, `email_verified`). */
  hd?: string;
  emailVerified?: boolean;
}

export const GLOBAL_ADMIN = '62e90394-69f5-4237-9190-012177145e10';

/**
 * The Microsoft identity platform as the install flow uses it: `/organizations/v2.0/adminconsent` answers as Entra
 * does (the test scripts the answer: consent granted for a tenant, declined, or consent_required), and each directory
 * `/{tid}/v2.0` is a real OpenID provider (node-oidc-provider mounted at that path, issuer `{host}/{tid}/v2.0`) whose
 * ID tokens carry `tid` and `wids`.
 */
export async function startFakeEntra(opts: { clientId: string; clientSecret: string; redirectUri?: string }) {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app = express();
  const directories = new Map<string, { accounts: Map<string, EntraAccount>; next: string }>();
  const fake = {
    host,
    /** What the next admin-consent request answers: `{ tenant }` granted, or an error code. */
    consent: { tenant: '', error: '' as '' | 'access_denied' | 'consent_required' },
    consentRequests: [] as URLSearchParams[],
    /** Our app's consent callback (known once the app has a port); set before addDirectory. */
    redirectUri: opts.redirectUri ?? '',
    addDirectory(tid: string, redirectUri?: string) {
      const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
      const accounts = new Map<string, EntraAccount>();
      const dir = { accounts, next: '' };
      directories.set(tid, dir);
      const config: Configuration = {
        jwks: { keys: [{ ...signingKey, kid: `k-${tid.slice(0, 8)}`, use: 'sig', alg: 'RS256' } as never] },
        clients: [{ client_id: opts.clientId, client_secret: opts.clientSecret, redirect_uris: [redirectUri ?? fake.redirectUri], token_endpoint_auth_method: 'client_secret_post' }],
        claims: { openid: ['sub', 'tid', 'wids', 'hd'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
        findAccount: async (_ctx, id) => {
          const a = accounts.get(id);
          return a ? { accountId: id, claims: async () => ({ sub: a.sub, email: a.email, email_verified: a.emailVerified ?? true, name: a.name, preferred_username: a.email, tid: a.tid ?? tid, wids: a.wids ?? [], ...(a.hd && { hd: a.hd }) }) } : undefined;
        },
        conformIdTokenClaims: false,
        pkce: { required: () => true },
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx, interaction) => `/${tid}/v2.0/interaction/${interaction.uid}` },
        cookies: { keys: ['fake-entra'] },
        loadExistingGrant: async (ctx) => {
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope('openid email profile');
          await grant.save();
          return grant;
        },
      };
      const provider = new Provider(`${host}/${tid}/v2.0`, config);
      const router = express.Router();
      router.get('/interaction/:uid', async (req, res) => {
        await provider.interactionFinished(req, res, { login: { accountId: dir.next } }, { mergeWithLastSubmission: false });
      });
      router.use(provider.callback());
      app.use(`/${tid}/v2.0`, router);
      return {
        add(a: EntraAccount) {
          accounts.set(a.sub, a);
          dir.next = a.sub;
        },
      };
    },
  };
  app.get('/organizations/v2.0/adminconsent', (req, res) => {
    const q = new URLSearchParams(req.url.split('?')[1] ?? '');
    fake.consentRequests.push(q);
    const back = new URL(q.get('redirect_uri')!);
    if (q.get('client_id') !== opts.clientId || back.href !== fake.redirectUri) return res.status(400).send('AADSTS50011: redirect URI mismatch');
    const answer: Record<string, string> = fake.consent.error
      ? { error: fake.consent.error, error_description: `AADSTS65004: ${fake.consent.error}`, state: q.get('state')! }
      : { tenant: fake.consent.tenant, admin_consent: 'True', scope: 'https://graph.microsoft.com/.default', state: q.get('state')! };
    back.search = new URLSearchParams(answer).toString();
    res.redirect(302, back.href);
  });
  server.on('request', app);
  return Object.assign(fake, { close: () => new Promise<void>((r) => server.close(() => r())) });
}
