// The text clean-up OpenAI's simple_tokenizer applies before BPE:
//   whitespace_clean(basic_clean(text)).lower()
// where basic_clean = ftfy.fix_text, then html.unescape twice, then strip.
import { fixText } from './ftfy/fix-text.js';
import { pythonHtmlUnescape } from './html.js';

// Unicode White_Space, which Python's str.strip and the `regex` module's \s use here; unlike
// JavaScript's \s it excludes U+FEFF. (C0 separators 1C-1F, which str.strip also removes,
// cannot survive ftfy and html.unescape.)
const WHITESPACE_RUN = /\p{White_Space}+/gu;

// After collapsing, only a single ' ' can remain at either end (JS trim would also drop U+FEFF).
const EDGE_SPACE = /^ | $/g;

// Printable ASCII without '&', tab and LF: no ftfy fixer or unescape changes such text.
const PLAIN_ASCII = /^[\x20-\x25\x27-\x7e\t\n]*$/;

/** The exact string CLIP's BPE regex runs on. */
export function cleanText(text: string): string {
  let t = text;
  if (!PLAIN_ASCII.test(t)) t = pythonHtmlUnescape(pythonHtmlUnescape(fixText(t)));
  return t.replace(WHITESPACE_RUN, ' ').replace(EDGE_SPACE, '').toLowerCase();
}
