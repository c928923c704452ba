import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/scim/apply-patch.js';
import { canonicalResource } from '../../src/scim/canonicalize.js';
import { parseFilter } from '../../src/scim/filter-parse.js';
import { canonicalPath, expandPathless, normaliseManagerOp, readPatchBody } from '../../src/scim/patch-normalize.js';
import { normaliseUserOps } from '../../src/scim/patch-user.js';
import { groupKind, userKind } from '../../src/scim/resource-kinds.js';
import { ENTERPRISE, PATCH_OP } from './scim-client.js';

const body = (Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });
const scimType = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { scimType?: string }).scimType;
  }
  return 'no error';
};

/** One test per normaliser rule (scim-dialects.md §7); pure functions, no database. */
describe('SCIM PATCH dialect normaliser', () => {
  it('rule 1: ops are case-insensitive; unknown ops are invalidSyntax', () => {
    expect(readPatchBody(body([{ op: 'REPLACE', path: 'x', value: 1 }, { op: 'Add', path: 'y', value: 2 }])).map((o) => o.op)).toEqual(['replace', 'add']);
    expect(scimType(() => readPatchBody(body([{ op: 'move', path: 'x' }])))).toBe('invalidSyntax');
  });

  it('rule 2: an empty Operations list is a no-op', () => {
    expect(readPatchBody(body([]))).toEqual([]);
  });

  it('rule 3: "True"/"False" become booleans for boolean attributes only', () => {
    const doc = canonicalResource(userKind, { userName: 'a', active: 'False', nickName: 'True', emails: [{ value: 'a@x', primary: 'TRUE' }] });
    expect(doc).toMatchObject({ active: false, nickName: 'True', emails: [{ value: 'a@x', primary: true }] });
  });

  it('rule 4: path-less values expand to one op per dotted, URN-qualified or extension key; id is ignored', () => {
    const ops = expandPathless(
      [{ op: 'replace', value: { id: 'g1', displayName: 'D', 'name.givenName': 'G', [`${ENTERPRISE}:employeeNumber`]: '7', [ENTERPRISE]: { department: 'R' } } }],
      userKind,
    );
    expect(ops).toEqual([
      { op: 'replace', path: 'displayName', value: 'D' },
      { op: 'replace', path: 'name.givenName', value: 'G' },
      { op: 'replace', path: `${ENTERPRISE}:employeeNumber`, value: '7' },
      { op: 'replace', path: `${ENTERPRISE}:department`, value: 'R' },
    ]);
  });

  it('rule 5: manager as bare string, "" clearing, and remove manager[value eq id]', () => {
    const doc = { userName: 'a', [ENTERPRISE]: { manager: { value: 'm1' } } };
    const path = `${ENTERPRISE}:manager`;
    expect(normaliseManagerOp({ op: 'add', path, value: 'm2' }, doc)).toEqual({ op: 'add', path, value: { value: 'm2' } });
    expect(normaliseManagerOp({ op: 'replace', path, value: '' }, doc)).toEqual({ op: 'remove', path });
    expect(normaliseManagerOp({ op: 'remove', path: 'manager[value eq "m1"]' }, doc)).toEqual({ op: 'remove', path });
    expect(normaliseManagerOp({ op: 'remove', path: 'manager[value eq "other"]' }, doc)).toBeNull();
    expect(normaliseManagerOp({ op: 'replace', path: 'displayName', value: 'x' }, doc)).toEqual({ op: 'replace', path: 'displayName', value: 'x' });
  });

  it('rules 6–7: member paths stay for the membership layer (value arrays, filters)', () => {
    expect(canonicalPath(groupKind, 'Members')).toBe('members');
    expect(canonicalPath(groupKind, 'members[value eq "u1"]')).toBe('members[value eq "u1"]');
  });

  it('rule 8: add/replace on a filtered path with no match creates the element', () => {
    const doc = canonicalResource(userKind, { userName: 'a', emails: [{ type: 'home', value: 'h@x' }] });
    const out = applyPatch(doc, normaliseUserOps([{ op: 'replace', path: 'emails[type eq "work"].value', value: 'w@x' }], doc));
    expect(out.emails).toEqual([
      { type: 'home', value: 'h@x' },
      { type: 'work', value: 'w@x' },
    ]);
  });

  it('rule 9: paths resolve case-insensitively; unknown → invalidPath; read-only → mutability', () => {
    expect(canonicalPath(userKind, 'NAME.GIVENNAME')).toBe('name.givenName');
    expect(canonicalPath(userKind, 'Emails[type eq "work"].Value')).toBe('emails[type eq "work"].value');
    expect(canonicalPath(userKind, `${ENTERPRISE.toLowerCase()}:EmployeeNumber`)).toBe(`${ENTERPRISE}:employeeNumber`);
    expect(canonicalPath(userKind, 'urn:acme:custom:2.0:User:badge')).toBe('urn:acme:custom:2.0:User:badge');
    expect(scimType(() => canonicalPath(userKind, 'bogus'))).toBe('invalidPath');
    expect(scimType(() => canonicalPath(userKind, 'meta.created'))).toBe('mutability');
    expect(scimType(() => canonicalPath(userKind, 'groups'))).toBe('mutability');
    // `""` on an optional attribute clears it
    expect(canonicalResource(userKind, { userName: 'a', nickName: '' })).toEqual({ userName: 'a' });
  });

  it('parses Entra\'s filtered-path-with-tail form as one element condition', () => {
    expect(parseFilter('emails[type eq "work"].value eq "x"')).toEqual({
      kind: 'valuePath',
      path: 'emails',
      filter: {
        kind: 'and',
        left: { kind: 'compare', path: 'type', op: 'eq', value: 'work' },
        right: { kind: 'compare', path: 'value', op: 'eq', value: 'x' },
      },
    });
    expect(parseFilter('not (a pr) or b eq "\\"q\\""')).toEqual({
      kind: 'or',
      left: { kind: 'not', expr: { kind: 'present', path: 'a' } },
      right: { kind: 'compare', path: 'b', op: 'eq', value: '"q"' },
    });
  });
});
