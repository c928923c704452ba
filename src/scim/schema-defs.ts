/** Attribute definitions of the schemas we serve (RFC 7643 §4, §8.7). They drive /Schemas, filters and writes. */
export type AttrType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface AttrDef {
  name: string;
  type: AttrType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttrDef[];
  referenceTypes?: string[];
  canonicalValues?: string[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttrDef[];
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

type Opts = Partial<Omit<AttrDef, 'name' | 'type' | 'subAttributes'>>;

function attr(name: string, type: AttrType, o: Opts = {}, subAttributes?: AttrDef[]): AttrDef {
  const def: AttrDef = {
    name,
    type,
    multiValued: false,
    description: o.description ?? name,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...o,
  };
  if (subAttributes) def.subAttributes = subAttributes;
  if (type === 'reference' && !def.referenceTypes) def.referenceTypes = ['external'];
  return def;
}

const str = (name: string, o: Opts = {}) => attr(name, 'string', o);

/** The usual multi-valued shape: value, display, type, primary (RFC 7643 §2.4). */
function multi(name: string, valueType: AttrType = 'string', types: string[] = ['work', 'home', 'other'], o: Opts = {}) {
  return attr(name, 'complex', { multiValued: true, ...o }, [
    attr('value', valueType),
    str('display'),
    str('type', { canonicalValues: types }),
    attr('primary', 'boolean'),
  ]);
}

export const userSchema: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', { required: true, uniqueness: 'server', description: 'Unique identifier for the User, case-insensitive' }),
    attr('name', 'complex', {}, [
      str('formatted'),
      str('familyName'),
      str('givenName'),
      str('middleName'),
      str('honorificPrefix'),
      str('honorificSuffix'),
    ]),
    str('displayName'),
    str('nickName'),
    attr('profileUrl', 'reference'),
    str('title'),
    str('userType'),
    str('preferredLanguage'),
    str('locale'),
    str('timezone'),
    attr('active', 'boolean'),
    str('password', { mutability: 'writeOnly', returned: 'never', description: 'Never stored by this server' }),
    multi('emails'),
    multi('phoneNumbers', 'string', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multi('ims', 'string', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multi('photos', 'reference', ['photo', 'thumbnail']),
    attr('addresses', 'complex', { multiValued: true }, [
      str('formatted'),
      str('streetAddress'),
      str('locality'),
      str('region'),
      str('postalCode'),
      str('country'),
      str('type', { canonicalValues: ['work', 'home', 'other'] }),
      attr('primary', 'boolean'),
    ]),
    attr('groups', 'complex', { multiValued: true, mutability: 'readOnly' }, [
      str('value', { mutability: 'readOnly', caseExact: true }),
      attr('$ref', 'reference', { mutability: 'readOnly', referenceTypes: ['Group'] }),
      str('display', { mutability: 'readOnly' }),
      str('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
    ]),
    multi('entitlements', 'string', []),
    multi('roles', 'string', []),
    multi('x509Certificates', 'binary', []),
  ],
};

export const enterpriseSchema: SchemaDef = {
  id: ENTERPRISE_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber'),
    str('costCenter'),
    str('organization'),
    str('division'),
    str('department'),
    attr('manager', 'complex', {}, [
      str('value', { caseExact: true }),
      attr('$ref', 'reference', { referenceTypes: ['User'] }),
      str('displayName', { mutability: 'readOnly' }),
    ]),
  ],
};

export const groupSchema: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', { required: true }), // not unique: RFC 7643 §4.2 does not say so and Entra allows duplicates
    attr('members', 'complex', { multiValued: true }, [
      str('value', { mutability: 'immutable', caseExact: true }),
      attr('$ref', 'reference', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
      str('display', { mutability: 'readOnly' }),
      str('type', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
    ]),
  ],
};

/** Common attributes of every resource (RFC 7643 §3.1); `id` and `externalId` compare case-exactly. */
export const commonAttrs: AttrDef[] = [
  str('id', { mutability: 'readOnly', returned: 'always', caseExact: true, uniqueness: 'server' }),
  str('externalId', { caseExact: true }),
  attr('meta', 'complex', { mutability: 'readOnly' }, [
    str('resourceType', { mutability: 'readOnly' }),
    attr('created', 'dateTime', { mutability: 'readOnly' }),
    attr('lastModified', 'dateTime', { mutability: 'readOnly' }),
    attr('location', 'reference', { mutability: 'readOnly', referenceTypes: ['uri'] }),
    str('version', { mutability: 'readOnly', caseExact: true }),
  ]),
];

/**
 * The definition named `name` case-insensitively (RFC 7643 §2.1), the first one if several. Every SCIM body and PATCH
 * path resolves through here, so each (constant) definition list is indexed once by lower-cased name instead of
 * lower-casing every definition on every lookup (a CPU profile of the Entra cycle showed the linear search).
 */
export function findAttr(defs: AttrDef[] | undefined, name: string): AttrDef | undefined {
  if (!defs) return undefined;
  let index = byLowerName.get(defs);
  if (!index) {
    index = new Map();
    for (const d of defs) {
      const key = d.name.toLowerCase();
      if (!index.has(key)) index.set(key, d);
    }
    byLowerName.set(defs, index);
  }
  return index.get(name.toLowerCase());
}

const byLowerName = new WeakMap<AttrDef[], Map<string, AttrDef>>();
