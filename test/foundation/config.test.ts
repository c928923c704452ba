import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.logLevel).toBe('info');
    expect(c.nodeEnv).toBe('development');
  });

  it('derives PUBLIC_URL from PORT and strips trailing slashes', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_URL: 'https://sso.example.com/' }).publicUrl).toBe('https://sso.example.com');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).port).toBe(3000);
  });

  it('reports every problem, one readable line each', () => {
    const p = problems({ PORT: 'abc', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', PUBLIC_URL: 'not a url' });
    expect(p.some((l) => l.startsWith('PORT:'))).toBe(true);
    expect(p.some((l) => l.startsWith('DATABASE_URL:') && l.includes('postgres://'))).toBe(true);
    expect(p.some((l) => l.startsWith('LOG_LEVEL:'))).toBe(true);
    for (const line of p) expect(line).not.toContain('\n');
  });

  it('requires MASTER_KEY and an https PUBLIC_URL in production', () => {
    const p = problems({ NODE_ENV: 'production', PUBLIC_URL: 'http://sso.example.com' });
    expect(p).toContain('MASTER_KEY: is required when NODE_ENV=production');
    expect(p).toContain('PUBLIC_URL: must be https when NODE_ENV=production');
    expect(() => loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://sso.example.com', MASTER_KEY: 'k' })).not.toThrow();
  });

  it('refuses a PUBLIC_URL with a query, fragment or non-http scheme', () => {
    expect(problems({ PUBLIC_URL: 'https://x.example.com/?a=1' })[0]).toMatch(/PUBLIC_URL/);
    expect(problems({ PUBLIC_URL: 'ftp://x.example.com' })[0]).toMatch(/PUBLIC_URL/);
  });
});
