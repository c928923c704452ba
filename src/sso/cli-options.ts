import type { OptionSpec, Options, OptionValue } from '../cli/command-table.js';
import { badRequest } from '../lib/errors.js';

export const str = (v: OptionValue) => (typeof v === 'string' ? v : undefined);
export const list = (v: OptionValue) => (Array.isArray(v) ? v : typeof v === 'string' ? [v] : []);

export const commonOptions: Record<string, OptionSpec> = {
  name: { type: 'string', description: 'display name shown on the login chooser' },
  'allowed-domain': { type: 'string', multiple: true, description: 'e-mail domain this IdP may assert (linking, discovery)' },
  'no-jit': { type: 'boolean', description: 'do not create unknown users (SCIM-managed tenants)' },
  'match-by': { type: 'string', description: 'first-login linking rule: email (default), userName or none' },
  map: { type: 'string', multiple: true, description: 'FIELD=ATTRIBUTE, tried before the defaults (email, givenName, familyName, displayName, groups)' },
};

const fields = ['email', 'givenName', 'familyName', 'displayName', 'groups'];

export function matchByOption(o: Options): 'email' | 'userName' | 'none' | undefined {
  const v = str(o['match-by']);
  if (v !== undefined && !['email', 'userName', 'none'].includes(v)) throw badRequest('--match-by must be email, userName or none');
  return v as 'email' | undefined;
}

export function mappingOption(o: Options): Record<string, string[]> | undefined {
  if (list(o.map).length === 0) return undefined;
  const mapping: Record<string, string[]> = {};
  for (const kv of list(o.map)) {
    const i = kv.indexOf('=');
    const field = kv.slice(0, i);
    if (i < 1 || !fields.includes(field)) throw badRequest(`--map takes FIELD=ATTRIBUTE with FIELD one of ${fields.join(', ')}`);
    (mapping[field] ??= []).push(kv.slice(i + 1));
  }
  return mapping;
}

export function commonInput(o: Options) {
  return { name: str(o.name), allowedDomains: list(o['allowed-domain']), jitEnabled: o['no-jit'] !== true, matchBy: matchByOption(o) ?? 'email', mapping: mappingOption(o) ?? {} };
}

export function onOff(o: Options, name: string): boolean | undefined {
  const v = str(o[name]);
  if (v === undefined) return undefined;
  if (v !== 'on' && v !== 'off') throw badRequest(`--${name} must be on or off`);
  return v === 'on';
}
