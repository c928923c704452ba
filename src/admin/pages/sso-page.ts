import { html, type SafeHtml } from '../../views/html.js';
import type { CertificateInfo } from '../queries/certificates.js';
import type { spValues } from '../queries/sp-values.js';
import { actionUrl, badge, buttonForm, copyField, formFields, select, table, when } from './components.js';

interface ConnectionRow {
  id: string;
  name: string;
  kind: string;
  issuer: string;
  enabled: boolean;
  jitEnabled?: unknown;
  allowedDomains?: unknown;
  matchBy?: unknown;
  idpInitiated?: unknown;
}

export interface SsoView {
  slug: string;
  csrf: string;
  sp: ReturnType<typeof spValues>;
  connections: ConnectionRow[];
  certificates: CertificateInfo[];
}

function instructions(sp: SsoView['sp']): SafeHtml {
  return html`<details><summary>Okta</summary><ol class="steps">
<li>Applications › Create App Integration › SAML 2.0 (or add SSO Bridge from the Okta Integration Network).</li>
<li>Single sign-on URL: the ACS URL above; Audience URI (SP Entity ID): the entity ID above.</li>
<li>Name ID format: EmailAddress. Attribute statements: <code>email</code>, <code>firstName</code>, <code>lastName</code>; group attribute statement <code>groups</code>.</li>
<li>Copy the app's <em>Metadata URL</em> (Sign On tab) into "Add a SAML identity provider" below.</li></ol></details>
<details><summary>Microsoft Entra ID</summary><ol class="steps">
<li>Enterprise applications › New application › Create your own (or SSO Bridge from the gallery) › Single sign-on › SAML.</li>
<li>Identifier (Entity ID): the entity ID above. Reply URL (ACS): the ACS URL above. Sign on URL: <code>${sp.signOnUrl}</code>.</li>
<li>Copy the <em>App Federation Metadata Url</em> into "Add a SAML identity provider" below. For OIDC use the issuer <code>https://login.microsoftonline.com/{tenant-id}/v2.0</code> with redirect URI <code>${sp.oidcRedirectUri}</code>.</li></ol></details>
<details><summary>Google Workspace</summary><ol class="steps">
<li>Admin console › Apps › Web and mobile apps › Add app › Add custom SAML app.</li>
<li>ACS URL and Entity ID: the values above. Name ID: Basic Information › Primary email.</li>
<li>Download the IdP metadata and upload it below. Turn the app on for the organisational units that need it.</li></ol></details>
<details><summary>Any other SAML 2.0 or OpenID Connect provider</summary><ol class="steps">
<li>SAML: give it our metadata URL (<code>${sp.metadataUrl}</code>), or the entity ID and ACS URL; sign assertions with SHA-256.</li>
<li>OIDC: register a web application with redirect URI <code>${sp.oidcRedirectUri}</code>, authorization code flow, scopes <code>openid email profile</code>.</li></ol></details>`;
}

const common = (p: string): SafeHtml => html`<div class="row">
<div><label for="${p}-name">Display name</label><input id="${p}-name" name="name" type="text" maxlength="200" placeholder="Okta"></div>
<div><label for="${p}-domains">Allowed e-mail domains</label><input id="${p}-domains" name="allowedDomains" type="text" placeholder="example.com, example.org" aria-describedby="${p}-domains-hint"><p class="hint" id="${p}-domains-hint">Comma-separated. Linking to an existing user requires one of them.</p></div></div>
<div class="row">
<div><label for="${p}-jit">Create users at first sign-in (JIT)</label>${select(`${p}-jit`, 'jitEnabled', [['on', 'On'], ['off', 'Off (SCIM provisions users)']], 'on')}</div>
<div><label for="${p}-match">Match existing users by</label>${select(`${p}-match`, 'matchBy', [['email', 'E-mail'], ['userName', 'User name'], ['none', 'Never link (new users only)']], 'email')}</div></div>
<fieldset><legend>Attribute mapping (optional: names tried before the defaults)</legend><div class="row">
<div><label for="${p}-map-email">E-mail</label><input id="${p}-map-email" name="map_email" type="text" placeholder="mail"></div>
<div><label for="${p}-map-groups">Groups</label><input id="${p}-map-groups" name="map_groups" type="text" placeholder="memberOf"></div>
<div><label for="${p}-map-display">Display name</label><input id="${p}-map-display" name="map_displayName" type="text" placeholder="name"></div></div></fieldset>`;

export function ssoPage(v: SsoView): SafeHtml {
  const returnTo = `/t/${v.slug}/admin/sso`;
  const conns = table('Connections', ['Name', 'Protocol', 'Issuer / entity ID', 'Status', ''], v.connections.map((c) => [
    c.name, c.kind.toUpperCase(), html`<code>${c.issuer}</code>`,
    html`${c.enabled ? badge('On', 'ok') : badge('Off')} ${c.jitEnabled === false ? badge('No JIT') : badge('JIT')}${c.kind === 'saml' && c.idpInitiated === true ? html` ${badge('IdP-initiated')}` : ''}`,
    html`<a class="button secondary" href="/t/${v.slug}/admin/sso/test?connection=${c.id}" target="_blank" rel="opener" aria-label="Test sign-in with ${c.name} (opens a new window)">Test sign-in</a>
<a class="button secondary" href="/t/${v.slug}/admin/sso/test-result?connection=${c.id}" aria-label="Results and mapping of ${c.name}">Results and mapping</a>
${buttonForm({ slug: v.slug, action: 'idp-update', csrf: v.csrf, returnTo, fields: { id: c.id, enabled: c.enabled ? 'off' : 'on' }, label: c.enabled ? 'Turn off' : 'Turn on', ariaLabel: `${c.enabled ? 'Turn off' : 'Turn on'} ${c.name}` })}`,
  ]), 'No identity provider yet: add one below.');
  // The fingerprint lets an admin match a certificate with the one their IdP shows (Okta and Entra display SHA-256).
  const certs = table('Certificates', ['Certificate', 'Subject', 'SHA-256 fingerprint', 'Expires', ''], v.certificates.map((c) => [
    c.owner.kind === 'idp' ? `IdP: ${c.owner.name}` : `Ours (SAML ${c.owner.use})`, c.subject, html`<code class="fingerprint">${c.fingerprint256}</code>`, when(c.notAfter),
    c.daysLeft < 0 ? badge('Expired', 'bad') : c.daysLeft <= 30 ? badge(`${c.daysLeft} days left`, 'warn') : badge(`${c.daysLeft} days left`, 'ok'),
  ]), 'No SAML certificate yet.');
  return html`<section class="card" aria-labelledby="conns-h"><h2 id="conns-h">Identity providers</h2>${conns}</section>
<section class="card" aria-labelledby="sp-h"><h2 id="sp-h">Values for your identity provider</h2>
${copyField('Entity ID (Audience URI)', v.sp.entityId)}
${copyField('ACS URL (Reply URL)', v.sp.acsUrl)}
${copyField('SP metadata URL', v.sp.metadataUrl)}
${copyField('Single logout URL', v.sp.sloUrl)}
${copyField('OIDC redirect URI', v.sp.oidcRedirectUri)}
${copyField('Sign-on / initiate login URL', v.sp.oidcInitiateLoginUri)}
<h3>Instructions</h3>${instructions(v.sp)}</section>
<section class="card" aria-labelledby="saml-h"><h2 id="saml-h">Add a SAML identity provider</h2>
<form method="post" action="${actionUrl(v.slug, 'idp-add-saml')}">${formFields(v.csrf, returnTo)}
<label for="saml-url">Metadata URL</label><input id="saml-url" name="metadataUrl" type="url" placeholder="https://example.okta.com/app/…/sso/saml/metadata">
<label for="saml-file">Or a metadata file</label><input id="saml-file" type="file" accept=".xml,application/xml,text/xml" data-file-into="saml-xml">
<label for="saml-xml">Metadata XML (filled from the file, or paste it)</label><textarea id="saml-xml" name="metadataXml"></textarea>
${common('saml')}
<p class="hint">Trusting an identity provider asks you to have signed in within the last 10 minutes.</p>
<p><button type="submit">Add SAML provider</button></p></form></section>
<section class="card" aria-labelledby="oidc-h"><h2 id="oidc-h">Add an OpenID Connect identity provider</h2>
<form method="post" action="${actionUrl(v.slug, 'idp-add-oidc')}">${formFields(v.csrf, returnTo)}
<label for="oidc-issuer">Issuer URL</label><input id="oidc-issuer" name="issuer" type="url" required placeholder="https://login.example.com" aria-describedby="oidc-issuer-hint"><p class="hint" id="oidc-issuer-hint">Its settings are discovered from <code>/.well-known/openid-configuration</code>.</p>
<div class="row"><div><label for="oidc-client">Client ID</label><input id="oidc-client" name="clientId" type="text" required autocomplete="off"></div>
<div><label for="oidc-secret">Client secret</label><input id="oidc-secret" name="clientSecret" type="password" required autocomplete="new-password"></div>
<div><label for="oidc-auth">Client authentication</label>${select('oidc-auth', 'clientAuth', [['client_secret_basic', 'client_secret_basic'], ['client_secret_post', 'client_secret_post']], 'client_secret_basic')}</div></div>
${common('oidc')}
<p><button type="submit">Add OIDC provider</button></p></form></section>
<section class="card" aria-labelledby="certs-h"><h2 id="certs-h">Certificates</h2>${certs}</section>`;
}
