-- DropIndex
DROP INDEX "Group_tenantId_displayNameKey_key";

-- AlterTable
ALTER TABLE "Group" ADD COLUMN     "idpKey" TEXT;

-- CreateTable
CREATE TABLE "ServerSetting" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ServerSetting_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "Group_tenantId_displayNameKey_idx" ON "Group"("tenantId", "displayNameKey");

-- CreateIndex
CREATE UNIQUE INDEX "Group_tenantId_idpKey_key" ON "Group"("tenantId", "idpKey");

-- Groups created from SSO assertions keep their one-per-name key.
UPDATE "Group" SET "idpKey" = "displayNameKey" WHERE "source" = 'idp';
