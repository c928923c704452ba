/** SCIM error types (RFC 7644 §3.12, Table 9). */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The one error type of the SCIM protocol. Every SCIM response that is not a success is rendered from it. */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: ScimType,
  ) {
    super(detail);
    this.name = 'ScimError';
  }

  /** RFC 7644 §3.12: `status` is a string; `scimType` only where the RFC defines one. */
  toBody(): Record<string, unknown> {
    const body: Record<string, unknown> = { schemas: [ERROR_SCHEMA], status: String(this.status) };
    if (this.scimType) body.scimType = this.scimType;
    body.detail = this.message;
    return body;
  }
}

export const scimBadRequest = (scimType: ScimType, detail: string) => new ScimError(400, detail, scimType);
export const scimNotFound = (detail = 'Resource not found') => new ScimError(404, detail);
export const scimUniqueness = (detail: string) => new ScimError(409, detail, 'uniqueness');
export const scimUnauthorized = (detail = 'Authentication required') => new ScimError(401, detail);
