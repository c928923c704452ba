import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { Browser } from '../sso/support/browser.js';

/**
 * The MCP SDK's OAuthClientProvider for tests: everything in memory, and the "browser" steps done headlessly —
 * redirects followed (our AS, our SSO, the corporate IdP), the consent form submitted, stopping at the client's
 * redirect URI to pick up the code.
 */
export class HeadlessOAuthProvider implements OAuthClientProvider {
  readonly browser = new Browser();
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  authorizationUrl: URL | undefined;
  /** Pages seen during the last authorization (consent page included). */
  pages: { url: string; body: string }[] = [];
  savedTokens: OAuthTokens[] = [];

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
    private readonly name = 'E2E MCP client',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
    this.savedTokens.push(tokens);
  }
  /** Test hook: make the stored access token useless so the next request must refresh. */
  spoilAccessToken() {
    if (this.#tokens) this.#tokens = { ...this.#tokens, access_token: 'spoiled' };
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.#verifier = v;
  }
  codeVerifier() {
    return this.#verifier;
  }

  /** Plays the user's browser from the authorization URL to the redirect back to the client; returns the code. */
  async completeInBrowser(decision: 'approve' | 'deny' = 'approve'): Promise<URL> {
    if (!this.authorizationUrl) throw new Error('no authorization was started');
    const stop = (u: string) => u.startsWith(this.redirectUrl);
    let { res, url } = await this.browser.follow(this.authorizationUrl.href, {}, stop);
    this.pages = [];
    for (let step = 0; step < 10 && !stop(url); step++) {
      const body = await res.text();
      this.pages.push({ url, body });
      const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
      const action = /<form method="post" action="([^"]+)"/.exec(body)?.[1];
      if (res.status !== 200 || !csrf || !action) throw new Error(`the flow stopped at ${url} (${res.status}): ${body.slice(0, 300)}`);
      const post = await this.browser.postForm(new URL(action.replace(/&#38;|&amp;/g, '&'), url).href, { csrf, decision });
      const location = post.headers.get('location');
      if (!location) throw new Error(`consent answered ${post.status}`);
      const next = new URL(location, url).href;
      ({ res, url } = stop(next) ? { res: post, url: next } : await this.browser.follow(next, {}, stop));
    }
    return new URL(url);
  }
}
