/**
 * What the client declared at initialize that the gateway relays to it: form and URL elicitation, sampling. The
 * transport is stateless (decision 0008), so the declaration travels in the session id, under its MAC
 * (mcp-session-id.ts): a client cannot claim a capability it did not declare at initialize, and a client without a
 * session has declared nothing.
 */
export interface RelayCapabilities {
  elicitationForm: boolean;
  elicitationUrl: boolean;
  sampling: boolean;
}

export const NO_CAPABILITIES: RelayCapabilities = { elicitationForm: false, elicitationUrl: false, sampling: false };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * From `initialize` params. MCP 2025-11-25 "Elicitation": `elicitation: {}` means form mode only (backwards
 * compatible); `{form: {}, url: {}}` names the modes.
 */
export function relayCapabilitiesOf(initializeParams: unknown): RelayCapabilities {
  const caps = isObject(initializeParams) && isObject(initializeParams.capabilities) ? initializeParams.capabilities : {};
  const elicitation = isObject(caps.elicitation) ? caps.elicitation : null;
  const named = elicitation !== null && ('form' in elicitation || 'url' in elicitation);
  return {
    elicitationForm: elicitation !== null && (!named || isObject(elicitation.form)),
    elicitationUrl: elicitation !== null && isObject(elicitation.url),
    sampling: isObject(caps.sampling),
  };
}

/** A short code for the session id: letters in a fixed order, each present or not ("fus", "f", ""). */
export function encodeCapabilities(c: RelayCapabilities): string {
  return `${c.elicitationForm ? 'f' : ''}${c.elicitationUrl ? 'u' : ''}${c.sampling ? 's' : ''}`;
}

export function decodeCapabilities(code: string): RelayCapabilities {
  return { elicitationForm: code.includes('f'), elicitationUrl: code.includes('u'), sampling: code.includes('s') };
}
