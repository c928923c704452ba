import type { Db } from '../db/open-database.js';
import { AppError } from '../lib/errors.js';

const KEY = 'publicUrl';

/** Every server records the PUBLIC_URL it serves at start, so a CLI on another machine prints the right base URL. */
export async function recordServedUrl(db: Db, publicUrl: string): Promise<void> {
  await db.serverSetting.upsert({ where: { key: KEY }, create: { key: KEY, value: publicUrl }, update: { value: publicUrl } });
}

/**
 * The PUBLIC_URL the server serves, as it recorded it. The CLI's own environment is not a substitute: on PostgreSQL
 * the CLI often runs elsewhere (a laptop, a job) with another PUBLIC_URL or none, and a wrong URL pasted into Okta
 * or Entra fails far from its cause.
 */
export async function servedUrl(db: Db): Promise<string> {
  const row = await db.serverSetting.findUnique({ where: { key: KEY } });
  if (!row) {
    throw new AppError(409, 'no_server', 'No server has recorded its PUBLIC_URL in this database yet: start the server (sso-bridge serve) once, then retry');
  }
  return row.value;
}
