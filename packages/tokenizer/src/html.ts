// HTML character references, two ways: Python's html.unescape (which CLIP applies twice,
// accepting legacy names without ';' and repairing invalid numeric references) and ftfy's
// cautious unescape, which only decodes complete `&name;` / `&#n;` references.
import { HTML5_ENTITIES } from './tables/html5-entities.js';
import { codepage } from './codepages.js';

const NAMED = new Map<string, string>(HTML5_ENTITIES);
const LONGEST_NAME = 32;

/** Python's _invalid_codepoints: references to these decode to nothing. */
function isInvalidCodepoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe
  );
}

const windows1252 = codepage('sloppy-windows-1252');

function numericReference(digits: string, hex: boolean): string {
  // Past 7 significant digits the value is certainly beyond U+10FFFF; no need to parse it.
  const significant = digits.replace(/^0+/, '');
  const num = significant.length > 8 ? Infinity : significant === '' ? 0 : parseInt(significant, hex ? 16 : 10);
  // Python's _invalid_charrefs: NUL, CR and the C1 range are read as browsers do.
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return String.fromCodePoint(windows1252.decodeTable[num]!);
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

const PY_CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function replaceCharref(_match: string, body: string): string {
  if (body[0] === '#') {
    const hex = body[1] === 'x' || body[1] === 'X';
    const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
    return numericReference(digits, hex);
  }
  const exact = NAMED.get(body);
  if (exact !== undefined) return exact;
  // The longest known prefix wins, as the HTML5 tokenizer reads legacy names like "&notit;".
  const chars = Array.from(body);
  for (let x = Math.min(chars.length - 1, LONGEST_NAME); x > 1; x--) {
    const prefix = chars.slice(0, x).join('');
    const value = NAMED.get(prefix);
    if (value !== undefined) return value + chars.slice(x).join('');
  }
  return '&' + body;
}

/** Python's `html.unescape`, exactly. */
export function pythonHtmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(PY_CHARREF, replaceCharref);
}

/** ftfy's table: every ';'-terminated HTML5 name, plus upper-cased forms of the all-lowercase
 * names whose upper-case spelling means nothing else (so "&EACUTE;" reads as "É"). */
function buildFtfyEntities(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of HTML5_ENTITIES) {
    if (!name.endsWith(';')) continue;
    out.set('&' + name, value);
    if (name === name.toLowerCase()) {
      const upper = '&' + name.toUpperCase();
      if (pythonHtmlUnescape(upper) === upper) out.set(upper, value.toUpperCase());
    }
  }
  return out;
}

let ftfyEntities: Map<string, string> | undefined;
const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's `unescape_html`: only complete references; a numeric one must consume its ';'. */
export function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  ftfyEntities ??= buildFtfyEntities();
  const table = ftfyEntities;
  return text.replace(FTFY_ENTITY, (ref) => {
    const named = table.get(ref);
    if (named !== undefined) return named;
    if (ref.startsWith('&#')) {
      const unescaped = pythonHtmlUnescape(ref);
      return unescaped.includes(';') ? ref : unescaped;
    }
    return ref;
  });
}
