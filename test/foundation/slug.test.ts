import { describe, expect, it } from 'vitest';
import { SlugSchema } from '../../src/tenants/slug.js';

describe('tenant slugs', () => {
  it.each(['acme', 'acme-corp', 'a1b', 'x'.repeat(40), '123'])('accepts %s', (slug) => {
    expect(SlugSchema.safeParse(slug).success).toBe(true);
  });

  it.each([
    ['ab', 'too short'],
    ['x'.repeat(41), 'too long'],
    ['Acme', 'upper case'],
    ['acme_corp', 'underscore (Okta refuses _ in SCIM base URLs)'],
    ['-acme', 'leading dash'],
    ['acme-', 'trailing dash'],
    ['ac--me', 'double dash'],
    ['acme corp', 'space'],
    ['admin', 'reserved'],
    ['well-known', 'reserved'],
    ['scim', 'reserved'],
  ])('refuses %s (%s)', (slug) => {
    expect(SlugSchema.safeParse(slug).success).toBe(false);
  });
});
