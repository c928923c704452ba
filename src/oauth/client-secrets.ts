import type { AdapterPayload } from 'oidc-provider';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { Vault } from '../vault/vault.js';

const OWNER_KIND = 'oauth-client-secret';
const REF = 'x_sb_secret_ref';

export interface ClientSecretStore {
  put(t: TenantCtx, clientId: string, secret: string): Promise<string>;
  get(t: TenantCtx, ref: string): Promise<string>;
  remove(t: TenantCtx, clientId: string): Promise<void>;
}

/** Confidential clients' secrets live encrypted in the vault; the OidcPayload row keeps only a reference. */
export function vaultClientSecrets(vault: Vault): ClientSecretStore {
  return {
    async put(t, clientId, secret) {
      await this.remove(t, clientId);
      return vault.put(t, { kind: OWNER_KIND, id: clientId }, secret);
    },
    get: (t, ref) => vault.getString(t, ref),
    async remove(t, clientId) {
      const rows = await t.db.vaultSecret.findMany({ where: { ownerKind: OWNER_KIND, ownerId: clientId }, select: { id: true } });
      for (const row of rows) await vault.remove(t, row.id);
    },
  };
}

export async function protectClientSecret(t: TenantCtx, store: ClientSecretStore, clientId: string, payload: AdapterPayload) {
  const { client_secret: secret, ...rest } = payload;
  if (typeof secret !== 'string') return payload;
  return { ...rest, [REF]: await store.put(t, clientId, secret) } as AdapterPayload;
}

export async function revealClientSecret(t: TenantCtx, store: ClientSecretStore, payload: AdapterPayload) {
  const { [REF]: ref, ...rest } = payload as AdapterPayload & { [REF]?: string };
  if (typeof ref !== 'string') return payload;
  return { ...rest, client_secret: await store.get(t, ref) } as AdapterPayload;
}
