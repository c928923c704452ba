-- AlterTable
ALTER TABLE "User" ADD COLUMN     "pendingRevocation" JSONB;
