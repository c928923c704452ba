-- AlterTable
ALTER TABLE "UpstreamOAuthClient" ADD COLUMN     "idJagConnectionId" TEXT;
