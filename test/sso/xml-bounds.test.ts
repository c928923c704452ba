import { describe, expect, it } from 'vitest';
import { xmlOutOfBounds, type XmlBounds } from '../../src/sso/saml/xml-bounds.js';

const b: XmlBounds = { maxChars: 10_000, maxElements: 10, maxChildren: 4, maxDepth: 3 };

describe('xmlOutOfBounds: the shape of a message, counted in one pass before any parser', () => {
  it('counts start tags, children per element and depth; self-closing tags open nothing', () => {
    expect(xmlOutOfBounds('<a><b/><b/><b x="1"/></a>', b)).toBeNull();
    expect(xmlOutOfBounds(`<a>${'<b/>'.repeat(5)}</a>`, b)).toBe('more than 4 elements under one element');
    expect(xmlOutOfBounds('<a><b><c><d/></c></b></a>', b)).toBeNull();
    expect(xmlOutOfBounds('<a><b><c><d></d></c></b></a>', b)).toBe('elements nested deeper than 3');
    expect(xmlOutOfBounds(`<a>${'<b><c/><c/></b>'.repeat(4)}</a>`, b)).toBe('more than 10 elements');
    expect(xmlOutOfBounds('x'.repeat(10_001), b)).toBe('message over 10000 characters');
  });

  it('is not fooled by ">" or "/>" in quoted attribute values, nor by tags inside comments, CDATA or declarations', () => {
    expect(xmlOutOfBounds(`<a v="x>/>"><b w='>'/><b/></a>`, b)).toBeNull();
    expect(xmlOutOfBounds(`<?xml version="1.0"?><a><!-- <b/><b/><b/><b/><b/> --><![CDATA[<b/><b/><b/><b/><b/>]]><b/></a>`, b)).toBeNull();
    // A self-closing tag whose quoted value ends in "/": still one element, and what follows is its sibling.
    expect(xmlOutOfBounds(`<a><b v="/"/><b/><b/><b/><b/></a>`, b)).toBe('more than 4 elements under one element');
  });
});
