import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../src/sso/saml/self-signed-cert.js';

// Regression: a random serial starting with a zero byte was encoded non-minimally (~1 certificate in 256), and
// OpenSSL refused the certificate — an SP key pair or a test IdP that randomly could not be read.
describe('self-signed certificates', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const make = (serial: Buffer) => new X509Certificate(selfSignedCertificate({ privateKey, publicKey, commonName: 'sp', notBefore: new Date('2026-01-01T00:00:00Z'), years: 1, serial }));

  it.each([
    ['leading zero bytes', Buffer.from('00001234567890abcdef1234567890ab', 'hex'), '1234567890ABCDEF1234567890AB'],
    ['a leading zero before a high bit', Buffer.from('0080aa', 'hex'), '80AA'],
    ['a high first bit', Buffer.from('ff01', 'hex'), 'FF01'],
    ['a single byte', Buffer.from('05', 'hex'), '05'],
  ])('encodes a serial with %s so OpenSSL reads it back', (_name, serial, expected) => {
    const cert = make(serial);
    expect(cert.serialNumber.replace(/^0+(?=..)/, '')).toBe(expected.replace(/^0+(?=..)/, ''));
    expect(cert.verify(publicKey)).toBe(true);
  });
});
