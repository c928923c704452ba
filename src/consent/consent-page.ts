import { escapeHtml, page } from './html.js';

export interface ConsentView {
  tenantName: string;
  clientName: string;
  clientId: string;
  /** How the client came to be known: pre-registered by an admin, a client ID metadata document, or self-registered. */
  origin: 'admin' | 'cimd' | 'self';
  /** Host of the redirect URI this request will return to (where the code goes). */
  redirectHost: string;
  /** Every redirect URI of the client is on the user's own machine (http loopback). */
  localhostOnly: boolean;
  tools: { name: string; description: string | null }[];
  userLabel: string;
  formAction: string;
  /** The user's connected-apps page, where a consent is withdrawn. */
  appsUrl: string;
  csrf: string;
  /** Per-user upstream accounts offered at consent (src/upstream-auth/consent-accounts.ts). */
  accounts?: { name: string; host: string; connected: boolean; connectUrl: string }[];
}

/** "Your accounts these tools use": connected ones ticked, the others with a Connect link back to this page. */
function renderAccounts(accounts: NonNullable<ConsentView['accounts']>): string {
  if (accounts.length === 0) return '';
  const items = accounts.map((a) =>
    a.connected
      ? `<li><strong>${escapeHtml(a.name)}</strong> (<code>${escapeHtml(a.host)}</code>) — connected</li>`
      : `<li><strong>${escapeHtml(a.name)}</strong> (<code>${escapeHtml(a.host)}</code>) — <a class="button" href="${escapeHtml(a.connectUrl)}">Connect ${escapeHtml(a.name)}</a></li>`,
  );
  return `<h2>Your accounts these tools use</h2>
<p>Tools of these services act as you there. Connect them now, or the first time you use one.</p>
<ul>
${items.join('\n')}
</ul>`;
}

/**
 * The consent page (MCP AUTHZ "confused deputy"): which app, where its codes go, and the complete list of tools it
 * will be able to call. One POST form; its first submit control approves, the second denies. No scripts.
 */
export function renderConsentPage(v: ConsentView): string {
  const idCode = `<code>${escapeHtml(v.clientId)}</code>`;
  const clientIdLine = {
    admin: `<p>Registered by your administrators (client id ${idCode}).</p>`,
    cimd: `<p>Published by <strong>${escapeHtml(URL.parse(v.clientId)?.host ?? v.clientId)}</strong> (${idCode}).</p>`,
    // A self-registered (RFC 7591) client chose its own name: say so, so a look-alike name does not pass for the real app.
    self: `<p class="warning" role="note">This app registered itself (client id ${idCode}); your administrators have not verified it. Check that you started this connection and recognise where it sends you.</p>`,
  }[v.origin];
  const warning = v.localhostOnly
    ? `<p class="warning" role="note"><strong>This app runs on your own computer.</strong> It returns to
<code>${escapeHtml(v.redirectHost)}</code> on this machine. Approve only if you just started connecting it yourself.</p>`
    : '';
  const tools = v.tools.length
    ? `<ul>\n${v.tools.map((t) => `<li><code>${escapeHtml(t.name)}</code>${t.description ? ` — ${escapeHtml(t.description)}` : ''}</li>`).join('\n')}\n</ul>`
    : '<p>No tools are approved for you yet. Tools your administrators approve later will become available to this app.</p>';
  return page(
    v.tenantName,
    `Allow ${v.clientName} to use ${v.tenantName} tools?`,
    `<p>Signed in as <strong>${escapeHtml(v.userLabel)}</strong>.</p>
<p><strong>${escapeHtml(v.clientName)}</strong> wants to act for you with the tools your administrators approved.</p>
${clientIdLine}
<p>After you decide, you will be sent to <strong>${escapeHtml(v.redirectHost)}</strong>.</p>
${warning}
<h2 id="tools-heading">Tools this app will be able to call (${v.tools.length})</h2>
${tools}
${renderAccounts(v.accounts ?? [])}
<form method="post" action="${escapeHtml(v.formAction)}" aria-labelledby="tools-heading">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<button type="submit" name="decision" value="approve" autofocus>Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p>You can disconnect this app at any time from your <a href="${escapeHtml(v.appsUrl)}">connected apps</a>.</p>`,
  );
}
