import type { Prisma } from '../generated/prisma/client.js';
import { audited, tenantArg, tenantOption, type Command } from '../cli/command-table.js';
import { UsageError } from '../cli/parse-args.js';
import { AppError } from '../lib/errors.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { createSetupLink } from './setup-links.js';
import { checkGoogleLicenses } from './google-onboarding.js';
import { PUBLISHER_KEY } from '../connectors/google/publisher-key.js';
import { parseServiceAccountKey } from '../connectors/google/service-account-key.js';

interface SignupFacts {
  status?: string;
  source?: string;
  requestedAt?: string;
  contact?: string;
}
const signupOf = (settings: unknown) => ((settings as { signup?: SignupFacts } | null)?.signup ?? {}) as SignupFacts;

/** Approves or rejects a pending sign-up (SIGNUP_POLICY=approval): the CLI and the operator view share it. */
export async function decideSignup(s: Services, t: TenantCtx, verdict: 'approved' | 'rejected') {
  const row = await s.db.tenant.findUniqueOrThrow({ where: { id: t.id } });
  const signup = signupOf(row.settings);
  if (signup.status !== 'pending') throw new AppError(409, 'conflict', `Tenant "${t.slug}" has no pending sign-up`);
  const settings = { ...(row.settings as object), signup: { ...signup, status: verdict, decidedAt: s.clock.now().toISOString() } } as Prisma.InputJsonObject;
  await s.db.tenant.update({ where: { id: t.id }, data: { settings, ...(verdict === 'approved' && { status: 'active' }) } });
  await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  return { id: t.id, slug: t.slug, signup: verdict, source: signup.source };
}

/** Tenants waiting for approval, oldest first. */
export async function pendingSignups(s: Services) {
  const rows = await s.db.tenant.findMany({ where: { status: 'disabled' }, orderBy: { createdAt: 'asc' }, select: { id: true, slug: true, name: true, settings: true, createdAt: true } });
  return rows.filter((r) => signupOf(r.settings).status === 'pending').map((r) => ({ id: r.id, slug: r.slug, name: r.name, ...signupOf(r.settings), createdAt: r.createdAt }));
}

/** Approves a pending tenant; a self-service sign-up also gets a setup link for its requester (shown once). */
export async function approveSignup(s: Services, t: TenantCtx) {
  const result = await decideSignup(s, t, 'approved');
  if (result.source !== 'signup') return result;
  // The tenant is active now: a fresh context (status is checked by the link's page).
  const link = await createSetupLink(s, await tenantArg(s, { tenant: t.slug }), 'signup');
  return { ...result, setupLink: link.url, setupLinkExpiresAt: link.expiresAt };
}

/** Setup links and the sign-up approval queue (docs/catalogs/README.md). */
export const onboardingCommands: Command[] = [
  {
    name: 'tenant setup-link',
    summary: "a single-use, expiring link that makes its holder the tenant's first admin (shown once)",
    options: { tenant: tenantOption, 'ttl-hours': { type: 'string', description: 'hours the link stays valid (default 72, at most 336)' } },
    forwardable: true,
    run: audited('setup-link.create', 'setup-link', async (s, t, o) => {
      const hours = o['ttl-hours'] === undefined ? 72 : Number(o['ttl-hours']);
      if (!Number.isFinite(hours) || hours <= 0 || hours > 336) throw new UsageError('--ttl-hours takes a number of hours between 1 minute and 336');
      return createSetupLink(s, t, 'operator', Math.round(hours * 3_600_000));
    }),
  },
  {
    name: 'signup list',
    summary: 'tenants waiting for approval (SIGNUP_POLICY=approval)',
    options: {},
    forwardable: true,
    run: async (s) => ({ policy: s.config.signupPolicy, pending: await pendingSignups(s) }),
  },
  {
    name: 'signup approve',
    summary: 'activate a pending tenant; a self-service sign-up also gets a setup link to send its requester',
    options: { tenant: tenantOption },
    forwardable: true,
    run: audited('signup.approve', 'tenant', approveSignup),
  },
  {
    name: 'signup reject',
    summary: 'refuse a pending tenant (it stays disabled)',
    options: { tenant: tenantOption },
    forwardable: true,
    run: audited('signup.reject', 'tenant', async (s, t) => decideSignup(s, t, 'rejected')),
  },
  {
    name: 'marketplace set-service-account',
    summary: "store the Google Marketplace publisher's service-account key (deployment-level, encrypted under the master key)",
    options: { key: { type: 'string', required: true, secret: true, description: 'the service-account JSON key (use --key-file PATH)' } },
    forwardable: true,
    run: async (s, o) => {
      const key = parseServiceAccountKey(String(o.key ?? ''));
      await s.vault.putDeployment(s.db, PUBLISHER_KEY, String(o.key));
      await s.audit.record(null, { actor: { kind: 'admin-cli' }, action: 'marketplace.service-account', outcome: 'success', detail: { clientId: key.client_id } });
      return { name: PUBLISHER_KEY, clientId: key.client_id, clientEmail: key.client_email };
    },
  },
  {
    name: 'marketplace check-licenses',
    summary: 'disable Google-installed tenants whose domain uninstalled the app or lost its licence (also a job every 6 h)',
    options: {},
    forwardable: true,
    run: async (s) => checkGoogleLicenses(s),
  },
];
