import { createSign, randomBytes, type KeyObject } from 'node:crypto';

/**
 * A minimal self-signed X.509 v3 certificate (RFC 5280 §4.1), DER-encoded by hand: node:crypto signs but cannot issue
 * certificates, and SAML metadata must carry our signing/encryption key as a certificate. SAML uses the certificate
 * only as a key container, so no extensions are needed.
 */
function der(tag: number, content: Buffer): Buffer {
  const len = content.length;
  let header: Buffer;
  if (len < 0x80) header = Buffer.from([tag, len]);
  else {
    const bytes: number[] = [];
    for (let n = len; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => der(0x31, Buffer.concat(parts));
const nullValue = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

/** A non-negative DER INTEGER (X.690 §8.3.2): minimal length — OpenSSL refuses leading zero bytes it did not need. */
export function derUnsignedInteger(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const minimal = value.subarray(start);
  // Signed encoding: a leading 1 bit needs a zero byte in front.
  return der(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2))) : der(0x18, Buffer.from(iso));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn, 'utf8')))));

export function selfSignedCertificate(opts: {
  privateKey: KeyObject;
  publicKey: KeyObject;
  commonName: string;
  notBefore: Date;
  years: number;
  /** Tests only: a fixed serial number; otherwise 16 random bytes. */
  serial?: Buffer;
}): string {
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), nullValue);
  const notAfter = new Date(opts.notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + opts.years);
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; randomness keeps (issuer, serial) unique.
  const serial = opts.serial ?? randomBytes(16);
  const tbs = seq(
    der(0xa0, derUnsignedInteger(Buffer.from([2]))), // version v3
    derUnsignedInteger(serial),
    sha256WithRsa,
    name(opts.commonName),
    seq(time(opts.notBefore), time(notAfter)),
    name(opts.commonName),
    opts.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = createSign('sha256').update(tbs).sign(opts.privateKey);
  const cert = seq(tbs, sha256WithRsa, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert.toString('base64').replace(/(.{64})/g, '$1\n').trim();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
