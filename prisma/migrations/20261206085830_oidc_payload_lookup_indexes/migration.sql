-- DropIndex
DROP INDEX "OidcPayload_tenantId_accountId_idx";

-- DropIndex
DROP INDEX "OidcPayload_tenantId_grantId_idx";

-- DropIndex
DROP INDEX "OidcPayload_tenantId_model_uid_idx";

-- DropIndex
DROP INDEX "OidcPayload_tenantId_model_userCode_idx";

-- CreateIndex
CREATE INDEX "OidcPayload_grantId_idx" ON "OidcPayload"("grantId");

-- CreateIndex
CREATE INDEX "OidcPayload_userCode_idx" ON "OidcPayload"("userCode");

-- CreateIndex
CREATE INDEX "OidcPayload_uid_idx" ON "OidcPayload"("uid");

-- CreateIndex
CREATE INDEX "OidcPayload_accountId_idx" ON "OidcPayload"("accountId");
