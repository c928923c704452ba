/**
 * A client mistake outside any protocol with its own error format (SCIM and OAuth have their own types).
 * `expose` mirrors node-oidc-provider: details of 4xx errors are public; anything else becomes a generic 500.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
  get expose(): boolean {
    return this.status < 500;
  }
}

export const notFound = (what = 'Not found') => new AppError(404, 'not_found', what);
export const badRequest = (message: string) => new AppError(400, 'bad_request', message);
export const conflict = (message: string) => new AppError(409, 'conflict', message);
