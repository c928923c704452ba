/**
 * A company directory read through its IdP's API (Google Admin SDK now; Okta and Entra reuse this for reconciliation).
 * Adapters page internally and yield every record; a failure mid-way throws, so callers never mistake a partial
 * listing for the truth (an outage must never look like "everyone left").
 */
export interface DirectoryUser {
  /** The directory's immutable id (becomes User.externalId). */
  externalId: string;
  /** Primary e-mail, lower-cased: the userName and the SSO link. */
  email: string;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  title: string | null;
  /** Suspended, archived or otherwise not allowed to sign in. */
  active: boolean;
  /** The sign-in name when it is not the e-mail (Okta `login`, Entra UPN): reconciliation also matches it to userName. */
  userName?: string | null;
  /** The directory's own word for the user's state (Okta SUSPENDED, Google suspended…), kept as audit evidence. */
  status?: string | null;
}

export interface DirectoryGroup {
  externalId: string;
  displayName: string;
  email: string | null;
}

export interface DirectorySource {
  /** For audit and reports, e.g. 'google'. */
  readonly kind: string;
  listUsers(): AsyncIterable<DirectoryUser>;
  listGroups(): AsyncIterable<DirectoryGroup>;
  /** Direct members of a group that are users (nested groups are not expanded), as user external ids. */
  listMembers(groupExternalId: string): AsyncIterable<string>;
  /**
   * After the listings were read: true when the directory answered that none of them changed since the run the
   * source was given (e.g. every page 304 Not Modified), so there is nothing to reconcile.
   */
  unchanged?(): boolean;
}
