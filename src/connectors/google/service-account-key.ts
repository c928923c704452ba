import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { badRequest } from '../../lib/errors.js';

/** The fields of a Google service-account key file (JSON) that DWD needs; the others are ignored. */
const KeyFileSchema = z.object({
  type: z.literal('service_account'),
  client_email: z.email(),
  client_id: z.string().regex(/^\d{1,40}$/),
  private_key_id: z.string().min(1).max(100),
  private_key: z.string().includes('PRIVATE KEY'),
  token_uri: z.url().default('https://oauth2.googleapis.com/token'),
  project_id: z.string().optional(),
});

export type ServiceAccountKey = z.output<typeof KeyFileSchema>;

/** Parses a key file; a malformed one is refused without echoing its content (it holds a private key). */
export function parseServiceAccountKey(text: string): ServiceAccountKey {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw badRequest('--service-account-file is not JSON: download the key as JSON from the Google Cloud console');
  }
  const parsed = KeyFileSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'type'))].join(', ');
    throw badRequest(`--service-account-file is not a service account key (check: ${fields})`);
  }
  const key = parsed.data;
  let type: string | undefined;
  try {
    type = createPrivateKey(key.private_key).asymmetricKeyType;
  } catch {
    throw badRequest('--service-account-file: private_key is not a readable PEM key');
  }
  // Google signs service-account assertions with RS256 only.
  if (type !== 'rsa') throw badRequest('--service-account-file: private_key is not an RSA key (Google service-account keys are RSA)');
  const tokenUri = new URL(key.token_uri);
  if (tokenUri.protocol !== 'https:' && tokenUri.protocol !== 'http:') throw badRequest('--service-account-file: token_uri must be an http(s) URL');
  return key;
}
