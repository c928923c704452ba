import type { AdminAction } from './admin-action.js';
import { removeClientAction, revokeUserClientAction, revokeUserEverythingAction } from './access-actions.js';
import { addOidcIdpAction, addSamlIdpAction, updateIdpAction } from './idp-actions.js';
import { createScimTokenAction, revokeScimTokenAction } from './scim-token-actions.js';
import { runReconcileAction } from './reconcile-actions.js';
import { updateSettingsAction } from './settings-actions.js';
import { acceptToolChangeAction, addUpstreamAction, approveToolAction, refreshUpstreamAction, rejectToolChangeAction, revokeToolAction } from './tool-actions.js';

/**
 * The admin API's state changes by URL name: `POST /t/{slug}/api/admin/actions/{name}` (JSON) and the console's forms
 * (`POST /t/{slug}/admin/actions/{name}`). The CLI calls the same action objects directly.
 */
export const adminActions: Record<string, AdminAction<never, { id: string }>> = {
  'scim-token-create': createScimTokenAction,
  'scim-token-revoke': revokeScimTokenAction,
  'tool-approve': approveToolAction,
  'tool-revoke': revokeToolAction,
  'tool-change-accept': acceptToolChangeAction,
  'tool-change-reject': rejectToolChangeAction,
  'upstream-add': addUpstreamAction,
  'upstream-refresh': refreshUpstreamAction,
  'settings-update': updateSettingsAction,
  'reconcile-run': runReconcileAction,
  'user-client-revoke': revokeUserClientAction,
  'client-remove': removeClientAction,
  'user-revoke-all': revokeUserEverythingAction,
  'idp-add-saml': addSamlIdpAction,
  'idp-add-oidc': addOidcIdpAction,
  'idp-update': updateIdpAction,
} as unknown as Record<string, AdminAction<never, { id: string }>>;
