import { describe, expect, it } from 'vitest';
import { mediaType } from '../../src/lib/media-type.js';

describe('mediaType', () => {
  it('gives type/subtype lower-cased without parameters, the common values as they are', () => {
    expect(mediaType('application/json')).toBe('application/json');
    expect(mediaType('text/event-stream')).toBe('text/event-stream');
    expect(mediaType('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(mediaType(' text/event-stream ;x=1')).toBe('text/event-stream');
    expect(mediaType(['application/json;q=1', 'text/html'])).toBe('application/json');
    expect(mediaType('application/jsonx')).toBe('application/jsonx');
    expect(mediaType('')).toBe('');
    expect(mediaType(undefined)).toBeUndefined();
  });
});
