import type { KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, page } from '../consent/html.js';

type Ctx = KoaContextWithOIDC;

/**
 * Pages of the device authorization grant (RFC 8628 §3.3): enter the code, confirm it, done. The forms come from
 * oidc-provider (they carry its CSRF token); sign-in and consent then run through the normal interaction.
 */
export const deviceFlowPages = (tenantName: string) => ({
  async userCodeInputSource(ctx: Ctx, form: string, _out: unknown, err?: { name?: string; userCode?: string }) {
    const message = err
      ? '<p role="alert">That code is not valid or has expired. Check the code on your device and try again.</p>'
      : '<p>Enter the code shown on your device.</p>';
    ctx.body = page(
      tenantName,
      'Connect a device',
      // The label goes to the visible code field; oidc-provider's form starts with its hidden xsrf input.
      `${message}\n<label for="user_code">Code</label>\n${form.replace(/<input(?=[^>]*name="user_code")/, '<input id="user_code"')}\n<button type="submit" form="op.deviceInputForm">Continue</button>`,
    );
  },
  async userCodeConfirmSource(ctx: Ctx, form: string, client: { clientName?: string; clientId: string }, _info: unknown, userCode: string) {
    ctx.body = page(
      tenantName,
      'Confirm the device',
      `<p><strong>${escapeHtml(client.clientName ?? client.clientId)}</strong> asks to connect.</p>
<p>Check that your device shows this code: <code>${escapeHtml(userCode)}</code>. If it does not, or you did not start this, choose Abort.</p>
${form}
<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`,
    );
  },
  async successSource(ctx: Ctx) {
    ctx.body = page(tenantName, 'Device connected', '<p>You can close this page and return to your device.</p>');
  },
});
