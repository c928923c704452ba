-- AlterTable
ALTER TABLE "Upstream" ADD COLUMN     "lastError" TEXT,
ADD COLUMN     "unavailableSince" TIMESTAMP(3);
