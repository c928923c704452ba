import path from 'node:path';
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const EnvSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_URL: z.string().optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL (unset it to use the embedded database)')
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    MASTER_KEY: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  })
  .transform((env, ctx) => {
    const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
    let parsed: URL | undefined;
    try {
      parsed = new URL(publicUrl);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must be an absolute http(s) URL' });
      return z.NEVER;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must use http or https' });
    }
    if (parsed.search || parsed.hash) {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must not carry a query or fragment' });
    }
    if (env.NODE_ENV === 'production') {
      if (!env.MASTER_KEY) {
        ctx.addIssue({ code: 'custom', path: ['MASTER_KEY'], message: 'is required when NODE_ENV=production' });
      }
      if (parsed.protocol !== 'https:') {
        ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must be https when NODE_ENV=production' });
      }
    }
    return {
      port: env.PORT,
      publicUrl,
      databaseUrl: env.DATABASE_URL,
      dataDir: path.resolve(env.DATA_DIR),
      masterKey: env.MASTER_KEY,
      logLevel: env.LOG_LEVEL,
      nodeEnv: env.NODE_ENV,
    };
  });

export type Config = z.output<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the environment once, at start-up. Throws {@link ConfigError} listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset: `FOO= npm start` should behave like no FOO at all.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`));
  }
  return result.data;
}
