-- AlterTable
ALTER TABLE "ScimToken" ADD COLUMN     "connectionId" TEXT;

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "ssoConnectionId" TEXT;
