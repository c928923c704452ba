/** A Microsoft failure already phrased for the user (tool error text); `failure` is what the audit records. */
export class MicrosoftToolFailure extends Error {
  override name = 'MicrosoftToolFailure';
  constructor(
    readonly failure: string,
    message: string,
    /** Machine-readable next step for clients that show a button: the re-sign-in or admin-consent link. */
    readonly action?: { kind: 'sign_in' | 'admin_consent' | 'retry'; url?: string; claims?: string },
  ) {
    super(message);
  }
}
