import type { Db } from '../db/open-database.js';

const KEY = 'publicUrl';

/** Every server records the PUBLIC_URL it serves at start, so a CLI on another machine prints the right base URL. */
export async function recordServedUrl(db: Db, publicUrl: string): Promise<void> {
  await db.serverSetting.upsert({ where: { key: KEY }, create: { key: KEY, value: publicUrl }, update: { value: publicUrl } });
}

/**
 * The PUBLIC_URL the server serves, as it recorded it. The CLI's own environment is a poor substitute: on PostgreSQL
 * the CLI often runs elsewhere (a laptop, a job) with another PUBLIC_URL or none, and a wrong URL pasted into Okta
 * or Entra fails far from its cause. Only before any server has ever started on this database (nothing recorded) is
 * the CLI's own PUBLIC_URL used: the CLI must work whether or not the server runs (the contract), and the first
 * server, started with the same environment, serves exactly that URL.
 */
export async function servedUrl(db: Db, cliPublicUrl: string): Promise<string> {
  const row = await db.serverSetting.findUnique({ where: { key: KEY } });
  return row?.value ?? cliPublicUrl;
}
