-- AlterTable
ALTER TABLE "Tool" ADD COLUMN     "held" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "heldChange" JSONB;

-- AlterTable
ALTER TABLE "Upstream" ADD COLUMN     "contentApproved" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "contentEveryone" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "prefix" TEXT;

-- CreateTable
CREATE TABLE "UpstreamContentGrant" (
    "tenantId" TEXT NOT NULL,
    "upstreamId" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamContentGrant_pkey" PRIMARY KEY ("upstreamId","groupId")
);

-- CreateIndex
CREATE INDEX "UpstreamContentGrant_tenantId_groupId_idx" ON "UpstreamContentGrant"("tenantId", "groupId");

-- AddForeignKey
ALTER TABLE "UpstreamContentGrant" ADD CONSTRAINT "UpstreamContentGrant_upstreamId_fkey" FOREIGN KEY ("upstreamId") REFERENCES "Upstream"("id") ON DELETE CASCADE ON UPDATE CASCADE;
