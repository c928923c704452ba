import { groupKind, userKind, type ResourceKind } from './resource-kinds.js';
import { scimNotFound } from './scim-error.js';
import { enterpriseSchema, groupSchema, userSchema, type SchemaDef } from './schema-defs.js';
import { listResponse } from './scim-response.js';

/** Largest page a list request gets, advertised as filter.maxResults (RFC 7644 §3.4.2.4). */
export const MAX_PAGE_SIZE = 500;
/** Most operations one PATCH may carry (one operation may still carry 10,000 member values). */
export const MAX_PATCH_OPERATIONS = 1000;

/** RFC 7643 §5: only what is implemented is advertised. */
export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'A SCIM token from `scim-token create`, or an OAuth 2.0 access token with scope scim',
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

function resourceType(kind: ResourceKind, baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: kind.name,
    name: kind.name,
    endpoint: kind.endpoint,
    description: kind.core.description,
    schema: kind.core.id,
    schemaExtensions: kind.extensions.map((e) => ({ schema: e.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${kind.name}` },
  };
}

export const resourceTypes = (baseUrl: string) => {
  const all = [userKind, groupKind].map((k) => resourceType(k, baseUrl));
  return listResponse(all, all.length, 1);
};

export function resourceTypeById(baseUrl: string, id: string) {
  const kind = [userKind, groupKind].find((k) => k.name === id);
  if (!kind) throw scimNotFound(`No resource type ${id}`);
  return resourceType(kind, baseUrl);
}

const allSchemas: SchemaDef[] = [userSchema, enterpriseSchema, groupSchema];

function schemaResource(s: SchemaDef, baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${s.id}` },
  };
}

export const schemas = (baseUrl: string) => listResponse(allSchemas.map((s) => schemaResource(s, baseUrl)), allSchemas.length, 1);

export function schemaById(baseUrl: string, id: string) {
  const s = allSchemas.find((x) => x.id.toLowerCase() === id.toLowerCase());
  if (!s) throw scimNotFound(`No schema ${id}`);
  return schemaResource(s, baseUrl);
}
