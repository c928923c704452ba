/**
 * How an upstream's tools, prompts and resources are named for clients (docs/tools.md, "Names"). The prefix is the
 * upstream's own setting: null = its name (the default), "" = none (allowed only when no name collides).
 */
export interface NamedUpstream {
  name: string;
  prefix: string | null;
}

/** The prefix clients see for this upstream ("" = none). */
export const upstreamPrefix = (up: NamedUpstream): string => up.prefix ?? up.name;

/** Gateway name of a tool or prompt: `{prefix}__{name}`, or the upstream's own name when the prefix is empty. */
export const gatewayName = (prefix: string, name: string): string => (prefix ? `${prefix}__${name}` : name);

/** The upstream's own name of a gateway name with this prefix, or null when the name is not under it. */
export function upstreamNameOf(prefix: string, name: string): string | null {
  if (!prefix) return name;
  return name.startsWith(`${prefix}__`) && name.length > prefix.length + 2 ? name.slice(prefix.length + 2) : null;
}

/**
 * Resource URIs (and URI templates) are namespaced by prefixing the scheme: `{prefix}+{uri}`, e.g.
 * `github+repo://x/y`. RFC 3986 §3.1 allows `+` in a scheme, so the result is still a URI, clients keep treating it
 * as opaque, and the upstream's own URI is recovered exactly by cutting at the first `+`.
 */
export const gatewayUri = (prefix: string, uri: string): string => (prefix ? `${prefix}+${uri}` : uri);

/** The upstream's own URI of a gateway URI under this prefix, or null when the URI is not under it. */
export function upstreamUriOf(prefix: string, uri: string): string | null {
  if (!prefix) return uri;
  return uri.startsWith(`${prefix}+`) && uri.length > prefix.length + 1 ? uri.slice(prefix.length + 1) : null;
}
