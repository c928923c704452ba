/**
 * DNS-rebinding defence (MCP 2025-11-25 transports: servers MUST validate Origin). Requests without Origin (native
 * clients, server-to-server) pass; a browser page may call only from our own origin. The caller answers 403 otherwise.
 */
export function originCheck(publicUrl: string): (origin: string | undefined) => boolean {
  const own = new URL(publicUrl).origin;
  return (origin) => origin === undefined || origin === own;
}
