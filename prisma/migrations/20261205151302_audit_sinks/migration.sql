-- CreateTable
CREATE TABLE "AuditSink" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'webhook',
    "url" TEXT NOT NULL,
    "secretId" TEXT NOT NULL,
    "ackedSeq" BIGINT NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL DEFAULT 'active',
    "failures" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "lastSuccessAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditSink_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "AuditSink_tenantId_idx" ON "AuditSink"("tenantId");

-- CreateIndex
CREATE INDEX "AuditSink_status_nextAttemptAt_idx" ON "AuditSink"("status", "nextAttemptAt");

-- AddForeignKey
ALTER TABLE "AuditSink" ADD CONSTRAINT "AuditSink_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
