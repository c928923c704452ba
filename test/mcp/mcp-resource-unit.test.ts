import { describe, expect, it } from 'vitest';
import { protectedResourceMetadataUrl } from '../../src/mcp/mcp-resource.js';

describe('protectedResourceMetadataUrl (RFC 9728 §3.1)', () => {
  it('inserts the well-known path between host and path, for each public URL in turn', () => {
    const t = { slug: 'acme' };
    for (let i = 0; i < 2; i++) {
      expect(protectedResourceMetadataUrl('https://sso.example.com', t)).toBe('https://sso.example.com/.well-known/oauth-protected-resource/t/acme/mcp');
      expect(protectedResourceMetadataUrl('https://example.com/bridge/', t)).toBe('https://example.com/.well-known/oauth-protected-resource/bridge/t/acme/mcp');
      expect(protectedResourceMetadataUrl('http://127.0.0.1:8080', { slug: 'b' })).toBe('http://127.0.0.1:8080/.well-known/oauth-protected-resource/t/b/mcp');
    }
  });
});
