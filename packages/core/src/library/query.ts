// Combined queries in the style rclip users know:  "beach" + "sunset" - "people",  2*"dog" + cat,
// image:/photos/a.jpg + "in winter". Terms are quoted or bare text; `+`/`-` between terms
// must stand apart (spaces around them), so "t-shirt" and "black-and-white" stay one term.
import { UsageError } from '../errors.js';

export interface QueryTerm {
  kind: 'text' | 'image';
  /** The text, or the image path for kind 'image'. */
  value: string;
  /** Signed: a `-` term has a negative weight. */
  weight: number;
}

const WEIGHT = /^(\d+(?:\.\d*)?|\.\d+)\s*\*\s*/;
const IMAGE_PREFIX = 'image:';

export function parseQuery(query: string): QueryTerm[] {
  const terms: QueryTerm[] = [];
  let i = skipSpace(query, 0);
  let sign = 1;
  if (query[i] === '+' || query[i] === '-') {
    sign = query[i] === '-' ? -1 : 1;
    i = skipSpace(query, i + 1);
  }
  for (;;) {
    let weight = 1;
    const w = WEIGHT.exec(query.slice(i));
    if (w) {
      weight = Number(w[1]);
      i += w[0].length;
    }
    let value: string;
    const quote = query[i];
    if (quote === '"' || quote === "'") {
      const end = query.indexOf(quote, i + 1);
      if (end < 0) throw new UsageError(`query: unterminated ${quote} starting at column ${i + 1}`);
      value = query.slice(i + 1, end);
      i = end + 1;
    } else {
      const end = bareEnd(query, i);
      value = query.slice(i, end).trim();
      i = end;
    }
    if (value.trim() === '') throw new UsageError(`query: empty term before column ${i + 1} in ${JSON.stringify(query)}`);
    terms.push(
      value.startsWith(IMAGE_PREFIX)
        ? { kind: 'image', value: value.slice(IMAGE_PREFIX.length), weight: sign * weight }
        : { kind: 'text', value, weight: sign * weight },
    );
    i = skipSpace(query, i);
    if (i >= query.length) return terms;
    const op = query[i];
    if (op !== '+' && op !== '-') {
      throw new UsageError(`query: expected + or - at column ${i + 1} in ${JSON.stringify(query)}`);
    }
    sign = op === '-' ? -1 : 1;
    i = skipSpace(query, i + 1);
    if (i >= query.length) throw new UsageError(`query: missing term after '${op}' in ${JSON.stringify(query)}`);
  }
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i] as string)) i++;
  return i;
}

/** End of a bare term: the first ` + ` / ` - ` that is followed by a space, quote or weight. */
function bareEnd(s: string, from: number): number {
  for (let k = from + 1; k < s.length; k++) {
    const c = s[k];
    if ((c === '+' || c === '-') && /\s/.test(s[k - 1] as string)) {
      const next = s[k + 1];
      if (next === undefined || /[\s"'\d.]/.test(next)) return k;
    }
  }
  return s.length;
}
