-- CreateTable
CREATE TABLE "ReconcileRun" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "seq" SERIAL NOT NULL,
    "runningKey" TEXT,
    "connectorId" TEXT,
    "source" TEXT NOT NULL,
    "trigger" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "summary" JSONB,
    "changes" JSONB,
    "error" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "ReconcileRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ReconcileRun_runningKey_key" ON "ReconcileRun"("runningKey");

-- CreateIndex
CREATE INDEX "ReconcileRun_tenantId_startedAt_idx" ON "ReconcileRun"("tenantId", "startedAt");

-- CreateIndex
CREATE INDEX "ReconcileRun_tenantId_seq_idx" ON "ReconcileRun"("tenantId", "seq");
