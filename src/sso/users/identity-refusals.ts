/**
 * What the user reads when an identity rule refuses a login (issue 8 §4): each page names the real reason, so the user
 * and the admin they ask know what to change. The exact detail (domain, user id, other connection) is in the trace.
 */
export const identityMessages = {
  domainNotAllowed: "This e-mail address's domain is not allowed for this sign-in method. Ask your administrator.",
  emailUnverified: 'Your identity provider says your e-mail address is not verified. Verify it there, then sign in again.',
  boundElsewhere: 'Your account signs in through another identity provider of this organisation. Use that one, or ask your administrator.',
  ambiguousDomain: 'Several sign-in methods of this organisation may claim your e-mail domain, so your account cannot be linked automatically. Ask your administrator.',
  subjectChanged: 'Your account is already linked to this identity provider under another user identifier (it changed there). Ask your administrator.',
  notLinkable: 'An account with your e-mail already exists, but this sign-in method is not set up to link to it. Ask your administrator.',
  emailInUse: 'Another account of this organisation already has your e-mail address, so this sign-in method cannot give it to yours. Ask your administrator.',
} as const;
