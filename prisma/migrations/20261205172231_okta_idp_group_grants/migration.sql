-- CreateTable
CREATE TABLE "IdpGroupGrant" (
    "tenantId" TEXT NOT NULL,
    "toolId" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "idpGroupId" TEXT NOT NULL,
    "idpGroupName" TEXT NOT NULL,
    "idpGroupNameKey" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "IdpGroupGrant_pkey" PRIMARY KEY ("toolId","source","idpGroupId")
);

-- CreateIndex
CREATE INDEX "IdpGroupGrant_tenantId_idpGroupId_idx" ON "IdpGroupGrant"("tenantId", "idpGroupId");

-- CreateIndex
CREATE INDEX "IdpGroupGrant_tenantId_idpGroupNameKey_idx" ON "IdpGroupGrant"("tenantId", "idpGroupNameKey");

-- AddForeignKey
ALTER TABLE "IdpGroupGrant" ADD CONSTRAINT "IdpGroupGrant_toolId_fkey" FOREIGN KEY ("toolId") REFERENCES "Tool"("id") ON DELETE CASCADE ON UPDATE CASCADE;
