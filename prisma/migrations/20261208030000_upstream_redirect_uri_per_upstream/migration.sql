-- Each per-user upstream gets its own redirect URI (decision 0060, RFC 9700 §4.4.2: a mix-up defence). Clients that
-- were registered at an upstream's authorization server with the tenant's shared callback (pre-registered by an
-- admin, or by dynamic registration) keep it until they are moved, so nothing registered there breaks.
ALTER TABLE "UpstreamOAuthClient" ADD COLUMN "sharedRedirectUri" BOOLEAN NOT NULL DEFAULT false;
UPDATE "UpstreamOAuthClient" SET "sharedRedirectUri" = true WHERE "registration" IN ('preregistered', 'dcr');
