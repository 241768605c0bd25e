// ftfy 6.3's fix_text with its default configuration: the text repairs OpenAI's CLIP applies
// before tokenizing. Each fixer is one small string → string step; fix_text repeats them
// until the text is stable, line by line.
import { ftfyUnescapeHtml } from '../html.js';
import { fixC1Controls, fixEncoding } from './encoding.js';

const LIGATURES: ReadonlyMap<string, string> = new Map([
  ['\u0132', 'IJ'], ['\u0133', 'ij'], ['\u0149', '\u02bcn'],
  ['\u01f1', 'DZ'], ['\u01f2', 'Dz'], ['\u01f3', 'dz'],
  ['\u01c4', 'D\u017d'], ['\u01c5', 'D\u017e'], ['\u01c6', 'd\u017e'],
  ['\u01c7', 'LJ'], ['\u01c8', 'Lj'], ['\u01c9', 'lj'],
  ['\u01ca', 'NJ'], ['\u01cb', 'Nj'], ['\u01cc', 'nj'],
  ['\ufb00', 'ff'], ['\ufb01', 'fi'], ['\ufb02', 'fl'], ['\ufb03', 'ffi'], ['\ufb04', 'ffl'],
  ['\ufb05', '\u017ft'], ['\ufb06', 'st'],
]);
const LIGATURE_RE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;

function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE_RE, (c) => LIGATURES.get(c) ?? c);
}

function buildWidthMap(): Map<string, string> {
  // The ideographic space is not a fullwidth form, but is treated as one.
  const map = new Map<string, string>([['\u3000', ' ']]);
  for (let cp = 0xff01; cp < 0xfff0; cp++) {
    const ch = String.fromCharCode(cp);
    const standard = ch.normalize('NFKC');
    if (standard !== ch) map.set(ch, standard);
  }
  return map;
}
const WIDTH_MAP = buildWidthMap();
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

function fixCharacterWidth(text: string): string {
  return text.replace(WIDTH_RE, (c) => WIDTH_MAP.get(c) ?? c);
}

function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

function fixLineBreaks(text: string): string {
  return text.replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n');
}

// JS strings pair surrogates by themselves; only unpaired halves remain to be replaced.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function fixSurrogates(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

// Python's \d in str patterns is any decimal digit, not just ASCII.
const ANSI_ESCAPE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;

function removeTerminalEscapes(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}

// Controls with no visible effect: C0 except tab/LF/FF/CR, DEL, deprecated Arabic format
// controls, the BOM, interlinear annotations and the object replacement character.
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function removeControlChars(text: string): string {
  return text.replace(CONTROL_CHARS, '');
}

function fixSegment(text: string, unescapeHtml: boolean): string {
  for (;;) {
    const original = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = text.normalize('NFC');
    if (text === original) return text;
  }
}

/** ftfy bounds the work per segment; Python counts code points, so this does too. */
const MAX_SEGMENT_CODEPOINTS = 1_000_000;

function* segments(text: string): Generator<string> {
  let pos = 0;
  while (pos < text.length) {
    const newline = text.indexOf('\n', pos);
    let end = newline === -1 ? text.length : newline + 1;
    if (end - pos > MAX_SEGMENT_CODEPOINTS) {
      // Advance exactly MAX_SEGMENT_CODEPOINTS code points (a pair counts once).
      let cut = pos;
      for (let n = 0; n < MAX_SEGMENT_CODEPOINTS && cut < end; n++) {
        const unit = text.charCodeAt(cut);
        cut += unit >= 0xd800 && unit <= 0xdbff && cut + 1 < end && (text.charCodeAt(cut + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      }
      end = cut;
    }
    yield text.slice(pos, end);
    pos = end;
  }
}

/** ftfy.fix_text(text) with default settings. HTML entities are decoded ("auto") only until a
 * segment containing '<' shows the text is real HTML; from then on they are left alone. */
export function fixText(text: string): string {
  let unescapeHtml = true;
  let out = '';
  for (const segment of segments(text)) {
    if (unescapeHtml && segment.includes('<')) unescapeHtml = false;
    out += fixSegment(segment, unescapeHtml);
  }
  return out;
}
