-- Issue 8 §2: IdP-initiated SAML sign-in cannot be bound to the browser (login CSRF). Existing SAML connections
-- accepted it implicitly. They move to the safe default, off, written explicitly so that `idp list` shows it. An admin
-- who needs dashboard tiles turns it back on with `idp update --tenant T --id ID --idp-initiated on`.
UPDATE "IdpConnection"
SET "config" = jsonb_set("config", '{saml,idpInitiated}', 'false'::jsonb, true)
WHERE "kind" = 'saml' AND jsonb_typeof("config"->'saml') = 'object' AND ("config"->'saml'->'idpInitiated') IS NULL;
