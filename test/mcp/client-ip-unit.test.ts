import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientIp } from '../../src/http/client-ip.js';

const request = (remoteAddress: string | undefined, forwardedFor?: string) => {
  const socket = { remoteAddress };
  return { headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}, socket, connection: socket } as unknown as IncomingMessage & { socket: { remoteAddress?: string } };
};

describe('clientIp (req.ip of the MCP endpoint)', () => {
  it('trusts forwarding only from private-network proxies, as Express does', () => {
    expect(clientIp(request('127.0.0.1', '203.0.113.9'))).toBe('203.0.113.9');
    expect(clientIp(request('198.51.100.7', '203.0.113.9'))).toBe('198.51.100.7');
  });

  it('is computed once per request: the log line written after the socket closed still names the client', () => {
    const req = request('10.1.2.3', '203.0.113.9, 10.9.9.9');
    expect(clientIp(req)).toBe('203.0.113.9');
    req.socket.remoteAddress = undefined; // a destroyed socket forgets its peer
    expect(clientIp(req)).toBe('203.0.113.9');
  });
});
