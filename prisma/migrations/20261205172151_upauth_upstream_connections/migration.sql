-- AlterTable
ALTER TABLE "Upstream" ADD COLUMN     "authMode" TEXT NOT NULL DEFAULT 'static';

-- CreateTable
CREATE TABLE "UpstreamOAuthClient" (
    "upstreamId" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "registration" TEXT NOT NULL,
    "clientId" TEXT,
    "clientSecretId" TEXT,
    "scope" TEXT,
    "connectAtConsent" BOOLEAN NOT NULL DEFAULT false,
    "issuer" TEXT,
    "metadata" JSONB,
    "redirectUri" TEXT,
    "discoveredAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "UpstreamOAuthClient_pkey" PRIMARY KEY ("upstreamId")
);

-- CreateTable
CREATE TABLE "UpstreamConnection" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "upstreamId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'connected',
    "statusReason" TEXT,
    "secretId" TEXT NOT NULL,
    "accessExpiresAt" TIMESTAMP(3),
    "scope" TEXT,
    "version" INTEGER NOT NULL DEFAULT 1,
    "refreshLeaseUntil" TIMESTAMP(3),
    "connectedAt" TIMESTAMP(3) NOT NULL,
    "refreshedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "UpstreamConnection_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UpstreamConnectState" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "upstreamId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "sessionId" TEXT NOT NULL,
    "verifierId" TEXT NOT NULL,
    "redirectUri" TEXT NOT NULL,
    "returnTo" TEXT,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamConnectState_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "UpstreamOAuthClient_tenantId_idx" ON "UpstreamOAuthClient"("tenantId");

-- CreateIndex
CREATE INDEX "UpstreamConnection_tenantId_upstreamId_idx" ON "UpstreamConnection"("tenantId", "upstreamId");

-- CreateIndex
CREATE UNIQUE INDEX "UpstreamConnection_tenantId_userId_upstreamId_key" ON "UpstreamConnection"("tenantId", "userId", "upstreamId");

-- CreateIndex
CREATE INDEX "UpstreamConnectState_tenantId_expiresAt_idx" ON "UpstreamConnectState"("tenantId", "expiresAt");

-- AddForeignKey
ALTER TABLE "UpstreamOAuthClient" ADD CONSTRAINT "UpstreamOAuthClient_upstreamId_fkey" FOREIGN KEY ("upstreamId") REFERENCES "Upstream"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UpstreamConnection" ADD CONSTRAINT "UpstreamConnection_upstreamId_fkey" FOREIGN KEY ("upstreamId") REFERENCES "Upstream"("id") ON DELETE CASCADE ON UPDATE CASCADE;
