import { describe, expect, it } from 'vitest';
import { fixText } from '../src/ftfy/fix-text.js';
import { fixEncoding } from '../src/ftfy/encoding.js';
import { isBad } from '../src/ftfy/badness.js';
import { cleanText } from '../src/normalize.js';

describe('ftfy mojibake repair', () => {
  it('re-decodes UTF-8 read as Latin-1 or Windows-1252, layer by layer', () => {
    expect(fixEncoding('sÃ³')).toBe('só');
    expect(fixEncoding('schÃ¶n')).toBe('schön');
    expect(fixEncoding('â€œquotedâ€\x9d')).toBe('“quoted”');
    expect(fixEncoding('ÃƒÂ©')).toBe('é');
    expect(fixEncoding('âœ” No problems')).toBe('✔ No problems');
  });

  it('repairs Cyrillic read as Windows-1252 and punctuation read as Windows-1251', () => {
    expect(fixEncoding('Ð¿Ñ€Ð¸Ð²ÐµÑ‚')).toBe('привет');
    expect(fixEncoding('вЂ” em dash')).toBe('— em dash');
  });

  it('restores a no-break space that became a plain space', () => {
    expect(fixEncoding('voilÃ le travail')).toBe('voilà le travail');
  });

  it('reads C1 controls mixed into mojibake with the sloppy code page', () => {
    expect(fixText('This text is sad .â\x81”.')).toBe('This text is sad .⁔.');
  });

  it('leaves intended text alone', () => {
    for (const text of ['café', 'naïve Ångström', 'Dvořák', '日本語', '© 2024 – “fine”', 'ÉCOLE À PARIS']) {
      expect(isBad(text), text).toBe(false);
      expect(fixEncoding(text)).toBe(text);
    }
  });
});

describe('ftfy fix_text', () => {
  it('uncurls quotes, splits Latin ligatures and narrows full-width forms', () => {
    expect(fixText('“curly” ‘single’ it’s')).toBe('"curly" \'single\' it\'s');
    expect(fixText('ﬁnance ﬂow ﬀ')).toBe('finance flow ff');
    expect(fixText('ＬＯＵＤ　ＮＯＩＳＥＳ')).toBe('LOUD NOISES');
    expect(fixText('ｶﾀｶﾅ')).toBe('カタカナ');
  });

  it('reads C1 controls as Windows-1252 and normalises line breaks', () => {
    expect(fixText('\x80\x9f')).toBe('€Ÿ');
    expect(fixText('a\r\nb\rc\u2028d\u2029e')).toBe('a\nb\nc\nd\ne');
  });

  it('removes terminal escapes and invisible control characters', () => {
    expect(fixText('\x1b[31mred\x1b[0m')).toBe('red');
    expect(fixText('a\x00b\x07c\x7fd\ufeffe\ufffaf')).toBe('abcdef');
    expect(fixText('tab\tand\x0cfeed')).toBe('tab\tand\x0cfeed');
  });

  it('replaces unpaired surrogates and composes to NFC', () => {
    expect(fixText('a\ud800b\udc00c')).toBe('a\ufffdb\ufffdc');
    expect(fixText('\ud83d\ude00')).toBe('😀');
    expect(fixText('e\u0301')).toBe('é');
  });

  it('unescapes HTML entities until a line shows real HTML, then stops for good', () => {
    expect(fixText('AT&amp;T')).toBe('AT&T');
    expect(fixText('<em>HTML entities &lt;3</em>')).toBe('<em>HTML entities &lt;3</em>');
    expect(fixText('&amp;\n<b>&amp;</b>\n&amp;')).toBe('&\n<b>&amp;</b>\n&amp;');
  });
});

describe("cleanText (CLIP's basic_clean + whitespace_clean + lower)", () => {
  it('unescapes HTML twice after ftfy, collapses whitespace and lower-cases', () => {
    expect(cleanText('  A\u00a0Photo\tOF\n\n a  DOG  ')).toBe('a photo of a dog');
    expect(cleanText('&amp;amp;amp;amp;')).toBe('&');
    expect(cleanText('<p>caf&eacute;</p>')).toBe('<p>café</p>');
    expect(cleanText('\u3000全角スペース\u3000')).toBe('全角スペース');
  });

  it('treats U+FEFF as a character, not as whitespace (unlike JavaScript\'s \\s)', () => {
    // '<' turns ftfy's unescaping off, so only html.unescape produces the U+FEFF.
    expect(cleanText('<x&#65279;')).toBe('<x\ufeff');
  });

  it('never throws on hostile input', () => {
    const hostile = ['\ud800', '\udc00\ud800', '\u0000', '\x1b[', '&#', '&', 'Ã', '\u0085', '\r\n\r\n'];
    for (const text of hostile) expect(() => cleanText(text)).not.toThrow();
  });
});
