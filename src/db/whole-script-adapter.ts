import { DriverAdapterError, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type pg from 'pg';

/**
 * The PostgreSQL driver adapter for the schema engine, running each migration script as ONE simple-protocol query.
 * @prisma/adapter-pg splits scripts on every ';', which cuts the body of a PL/pgSQL function (the audit log's
 * triggers and audit_append) in pieces; PostgreSQL itself runs a multi-statement script, dollar quotes included, in one
 * implicit transaction.
 */
export async function wholeScriptPg(pool: pg.Pool): Promise<SqlMigrationAwareDriverAdapterFactory> {
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const factory = new PrismaPg(pool);
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    adapter.executeScript = async (script: string) => {
      try {
        await pool.query(script);
      } catch (err) {
        const e = err as pg.DatabaseError;
        // The adapter's own error type, so the schema engine reports the database's message.
        throw new DriverAdapterError({ kind: 'postgres', code: e.code ?? '', severity: e.severity ?? 'ERROR', message: e.message, detail: e.detail, column: e.column, hint: e.hint });
      }
    };
    return adapter;
  };
  return factory;
}
