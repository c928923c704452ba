// The SCIM benchmark's floor, in a process of its own like the application: the same insert (with the same unique
// index) and the same indexed select as a SCIM create and filter, with Express + pg and nothing else. The table is
// created by the benchmark. Prints its URL on stdout.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) at the end terminates idle connections
const app = express();
app.use(express.json({ type: ['application/json', 'application/*+json'] }));
app.post('/users', async (req, res) => {
  const b = req.body as { userName: string; externalId?: string };
  const id = `usr_${randomBytes(16).toString('hex')}`;
  await pool.query('INSERT INTO bare_user (id, tenant_id, user_name, user_name_key, external_id, attributes) VALUES ($1,$2,$3,$4,$5,$6)', [
    id, 'ten', b.userName, b.userName.toLowerCase(), b.externalId ?? null, JSON.stringify(b),
  ]);
  res.status(201).json({ id, ...b });
});
app.get('/users', async (req, res) => {
  const { userName, externalId } = req.query as Record<string, string | undefined>;
  const { rows } = userName
    ? await pool.query('SELECT * FROM bare_user WHERE tenant_id = $1 AND user_name_key = $2', ['ten', userName.toLowerCase()])
    : await pool.query('SELECT * FROM bare_user WHERE tenant_id = $1 AND external_id = $2', ['ten', externalId]);
  res.json({ totalResults: rows.length, Resources: rows });
});
// The Entra pattern's third step: a PATCH is one UPDATE of the stored document by id.
app.patch('/users/:id', async (req, res) => {
  const { rowCount } = await pool.query('UPDATE bare_user SET attributes = attributes || $2::jsonb WHERE tenant_id = $1 AND id = $3', [
    'ten', JSON.stringify(req.body), req.params.id,
  ]);
  if (!rowCount) res.status(404).end();
  else res.json({ id: req.params.id });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
