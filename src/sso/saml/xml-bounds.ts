/**
 * The shape an XML message may have before anything builds a DOM of it or runs XPath over it. xpath (node-saml's, and
 * ours) costs more than linear time in the number of elements — 20,000 sibling elements held one request for 20 s —
 * and the SAML endpoints are anonymous, so an unbounded message would stall every tenant of the node.
 */
export interface XmlBounds {
  /** Characters of the decoded message. */
  maxChars: number;
  /** Elements in the whole message. */
  maxElements: number;
  /** Elements under any one element. */
  maxChildren: number;
  /** Nesting depth. */
  maxDepth: number;
}

/**
 * A SAML Response or LogoutRequest: a real one has tens to a few hundred elements; a group attribute adds one per
 * value (Entra sends at most 150 groups in a SAML token, Okta what its filter selects). 2,000 elements cost the
 * checks below about 0.1 s; 5,000 cost 0.6 s, 20,000 twenty seconds (measured, 2 cores).
 */
export const SAML_MESSAGE_BOUNDS: XmlBounds = { maxChars: 1024 * 1024, maxElements: 2000, maxChildren: 2000, maxDepth: 48 };

/** IdP metadata (one entity descriptor with a few keys, endpoints and attributes). */
export const METADATA_BOUNDS: XmlBounds = { maxChars: 1024 * 1024, maxElements: 3000, maxChildren: 3000, maxDepth: 48 };

/**
 * Why a message is outside the bounds, or null. One linear pass over the text: start tags are counted per parent
 * (quoted attribute values may hold `>`), end tags close them; comments, CDATA, processing instructions and
 * declarations are skipped. It only counts — well-formedness is the parser's job afterwards.
 */
export function xmlOutOfBounds(xml: string, b: XmlBounds): string | null {
  if (xml.length > b.maxChars) return `message over ${b.maxChars} characters`;
  const children: number[] = [0];
  let elements = 0;
  let i = xml.indexOf('<');
  while (i !== -1 && i < xml.length) {
    const next = xml.charCodeAt(i + 1);
    if (next === 0x21 /* ! */ || next === 0x3f /* ? */) {
      const close = xml.startsWith('<!--', i) ? xml.indexOf('-->', i + 4) : xml.startsWith('<![CDATA[', i) ? xml.indexOf(']]>', i + 9) : xml.indexOf('>', i + 2);
      if (close === -1) return null;
      i = xml.indexOf('<', close + 1);
      continue;
    }
    const end = tagEnd(xml, i + 1);
    if (end === -1) return null;
    if (next === 0x2f /* / */) {
      if (children.length > 1) children.pop();
    } else {
      elements++;
      const parent = children.length - 1;
      children[parent]!++;
      if (elements > b.maxElements) return `more than ${b.maxElements} elements`;
      if (children[parent]! > b.maxChildren) return `more than ${b.maxChildren} elements under one element`;
      if (xml.charCodeAt(end - 1) !== 0x2f /* self-closing */) {
        children.push(0);
        if (children.length - 1 > b.maxDepth) return `elements nested deeper than ${b.maxDepth}`;
      }
    }
    i = xml.indexOf('<', end + 1);
  }
  return null;
}

/** The index of the `>` that ends the tag starting at `from`, outside quoted attribute values; -1 if none. */
function tagEnd(xml: string, from: number): number {
  let quote = 0;
  for (let j = from; j < xml.length; j++) {
    const c = xml.charCodeAt(j);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x3e) return j;
  }
  return -1;
}
