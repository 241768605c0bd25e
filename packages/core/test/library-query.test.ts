// rclip-style combined queries: terms, signs, weights, image terms, and clear errors.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { parseQuery } from '../src/library/query.js';

describe('parseQuery', () => {
  it('keeps a plain sentence as one text term', () => {
    expect(parseQuery('a dog on the beach')).toEqual([{ kind: 'text', value: 'a dog on the beach', weight: 1 }]);
  });

  it('splits quoted terms on spaced + and -', () => {
    expect(parseQuery('"beach" + "sunset" - "people"')).toEqual([
      { kind: 'text', value: 'beach', weight: 1 },
      { kind: 'text', value: 'sunset', weight: 1 },
      { kind: 'text', value: 'people', weight: -1 },
    ]);
  });

  it('reads weights and bare terms, and leaves hyphenated words alone', () => {
    expect(parseQuery("2*\"x\" - 0.5 * black-and-white photo + 'a t-shirt'")).toEqual([
      { kind: 'text', value: 'x', weight: 2 },
      { kind: 'text', value: 'black-and-white photo', weight: -0.5 },
      { kind: 'text', value: 'a t-shirt', weight: 1 },
    ]);
  });

  it('accepts a leading sign and image: terms', () => {
    expect(parseQuery('- "people" + image:/photos/a b.jpg')).toEqual([
      { kind: 'text', value: 'people', weight: -1 },
      { kind: 'image', value: '/photos/a b.jpg', weight: 1 },
    ]);
  });

  it.each([
    ['"beach', /unterminated/],
    ['"beach" "sunset"', /expected \+ or -/],
    ['"beach" +', /missing term/],
    ['""', /empty term/],
    ['   ', /empty term/],
  ])('rejects %j', (q, msg) => {
    expect(() => parseQuery(q)).toThrow(UsageError);
    expect(() => parseQuery(q)).toThrow(msg);
  });
});
