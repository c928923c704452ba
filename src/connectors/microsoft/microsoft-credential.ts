import { createPrivateKey, X509Certificate } from 'node:crypto';
import { badRequest } from '../../lib/errors.js';

/** What the vault holds for a Microsoft connector: the app registration's client secret or certificate + key. */
export type MicrosoftCredential = { kind: 'secret'; secret: string } | { kind: 'certificate'; certificate: string; privateKey: string };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/;

/** A client secret as given (one line, no whitespace inside): Entra secrets are 40-ish printable characters. */
export function parseClientSecret(raw: string): MicrosoftCredential {
  const secret = raw.trim();
  if (!/^[\x21-\x7e]{16,512}$/.test(secret)) throw badRequest('--client-secret-file must hold the client secret value alone (16-512 printable characters, no spaces)');
  return { kind: 'secret', secret };
}

/**
 * A certificate credential: one PEM file with the certificate (as uploaded to the app registration) and its private
 * key. msal-node signs the client assertion (RFC 7523 §2.2) with the key, naming the certificate by its SHA-256
 * thumbprint (`x5t#S256`).
 */
export function parseCertificate(raw: string): { credential: MicrosoftCredential; thumbprintSha256: string; notAfter: string } {
  const certPem = PEM_CERT.exec(raw)?.[0];
  const keyPem = PEM_KEY.exec(raw)?.[0];
  if (!certPem || !keyPem) throw badRequest('--certificate-file must be PEM with the certificate AND its private key (unencrypted)');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw badRequest('--certificate-file: the certificate is not valid PEM');
  }
  let privateKey: string;
  try {
    const key = createPrivateKey(keyPem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not rsa');
    if (!cert.checkPrivateKey(key)) throw badRequest('--certificate-file: the private key does not belong to the certificate');
    privateKey = key.export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('--certificate-file')) throw err;
    throw badRequest('--certificate-file: the private key must be an unencrypted RSA key (Entra signs client assertions with RS256/PS256)');
  }
  const thumbprintSha256 = cert.fingerprint256.replaceAll(':', '').toLowerCase();
  return { credential: { kind: 'certificate', certificate: certPem, privateKey }, thumbprintSha256, notAfter: new Date(cert.validTo).toISOString() };
}

export const serializeCredential = (c: MicrosoftCredential) => JSON.stringify(c);

export function deserializeCredential(raw: string): MicrosoftCredential {
  const c = JSON.parse(raw) as MicrosoftCredential;
  if (c.kind !== 'secret' && c.kind !== 'certificate') throw new Error('Unknown Microsoft credential kind');
  return c;
}

/** msal-node's clientSecret / clientCertificate settings for a credential. */
export function msalCredential(c: MicrosoftCredential) {
  if (c.kind === 'secret') return { clientSecret: c.secret };
  const cert = new X509Certificate(c.certificate);
  return {
    clientCertificate: {
      thumbprintSha256: cert.fingerprint256.replaceAll(':', '').toLowerCase(),
      privateKey: c.privateKey,
      // The chain (x5c) lets Entra validate by subject name and issuer (SNI) as well as by the uploaded thumbprint.
      x5c: c.certificate,
    },
  };
}
