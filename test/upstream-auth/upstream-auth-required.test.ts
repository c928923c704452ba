import { describe, expect, it } from 'vitest';
import { ErrorCode, UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { UpstreamAuthRequired } from '../../src/upstream-auth/upstream-auth-required.js';

describe('UpstreamAuthRequired', () => {
  const url = 'https://sso.example.com/t/acme/connect/gh';

  it('is a tool error result with the link and a machine-readable twin', () => {
    const r = new UpstreamAuthRequired('not_connected', 'gh', url).toolResult();
    expect(r.isError).toBe(true);
    expect(r.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining(url) });
    expect(r.structuredContent).toEqual({ error: 'not_connected', upstream: 'gh', connectUrl: url });
  });

  it('becomes a URL-mode elicitation (-32042) only when the user has to act', () => {
    const e = new UpstreamAuthRequired('needs_reconnection', 'gh', url).toUrlElicitation();
    expect(e).toBeInstanceOf(UrlElicitationRequiredError);
    expect(e!.code).toBe(ErrorCode.UrlElicitationRequired);
    expect(e!.elicitations).toEqual([{ mode: 'url', message: expect.stringContaining('connect it again'), elicitationId: expect.any(String), url }]);
    expect(new UpstreamAuthRequired('refresh_unavailable', 'gh', url).toUrlElicitation()).toBeNull();
    expect(new UpstreamAuthRequired('refresh_unavailable', 'gh', url).toolResult().structuredContent).not.toHaveProperty('connectUrl');
  });

  it('id-jag: a sign-in link the user can open (and elicit); refusals name the reason and offer no link', () => {
    const login = 'https://sso.example.com/t/acme/login';
    const signIn = new UpstreamAuthRequired('idp_sign_in_required', 'crm', login, 'no_sign_in: no company sign-in is stored for you');
    expect(signIn.toolResult().structuredContent).toEqual({ error: 'idp_sign_in_required', upstream: 'crm', signInUrl: login, reason: 'no_sign_in: no company sign-in is stored for you' });
    expect(signIn.message).toContain(login);
    expect(signIn.toUrlElicitation()!.elicitations[0]).toMatchObject({ mode: 'url', url: login });
    for (const reason of ['idp_refused', 'upstream_refused'] as const) {
      const e = new UpstreamAuthRequired(reason, 'crm', login, 'access_denied: not assigned');
      expect(e.message).toContain('access_denied: not assigned');
      expect(e.message).not.toContain(login);
      expect(e.toUrlElicitation()).toBeNull();
      expect(e.toolResult().structuredContent).toEqual({ error: reason, upstream: 'crm', reason: 'access_denied: not assigned' });
    }
  });
});
