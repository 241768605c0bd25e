import { describe, expect, it } from 'vitest';
import { ftfyUnescapeHtml, pythonHtmlUnescape } from '../src/html.js';

describe("pythonHtmlUnescape (Python's html.unescape)", () => {
  it('decodes named, decimal and hex references', () => {
    expect(pythonHtmlUnescape('&lt;b&gt; &amp; &quot;x&quot; &#39; &#x27; &eacute;')).toBe('<b> & "x" \' \' é');
  });

  it('accepts legacy names without a semicolon and the longest known prefix', () => {
    expect(pythonHtmlUnescape('&copy2024')).toBe('©2024');
    expect(pythonHtmlUnescape('Tom &amp Jerry')).toBe('Tom & Jerry');
    expect(pythonHtmlUnescape('&notit;')).toBe('¬it;');
    expect(pythonHtmlUnescape('&unknown;')).toBe('&unknown;');
  });

  it('repairs invalid numeric references as Python does', () => {
    expect(pythonHtmlUnescape('&#0;')).toBe('\ufffd');
    expect(pythonHtmlUnescape('&#x110000;')).toBe('\ufffd');
    expect(pythonHtmlUnescape('&#xd800;')).toBe('\ufffd');
    expect(pythonHtmlUnescape('&#133;')).toBe('…'); // C1 read as Windows-1252
    expect(pythonHtmlUnescape('&#x81;')).toBe('\x81'); // undefined in Windows-1252: kept
    expect(pythonHtmlUnescape('&#13;')).toBe('\r');
    expect(pythonHtmlUnescape('a&#1;b&#x7f;c&#xfffe;d')).toBe('abcd');
    expect(pythonHtmlUnescape('&#' + '9'.repeat(50) + ';')).toBe('\ufffd');
    expect(pythonHtmlUnescape('&#128512;')).toBe('😀');
  });

  it('leaves text without "&" untouched', () => {
    expect(pythonHtmlUnescape('plain text')).toBe('plain text');
  });
});

describe("ftfyUnescapeHtml (ftfy's cautious unescape)", () => {
  it('decodes only complete references with a semicolon', () => {
    expect(ftfyUnescapeHtml('&lt;tag&gt;')).toBe('<tag>');
    expect(ftfyUnescapeHtml('this&not that')).toBe('this&not that');
    expect(ftfyUnescapeHtml('&Jscr;ohn &HilbertSpace;ancock')).toBe('𝒥ohn ℋancock');
  });

  it('reads upper-cased names of lower-case entities, but not mixed case', () => {
    expect(ftfyUnescapeHtml('P&EACUTE;REZ')).toBe('PÉREZ');
    expect(ftfyUnescapeHtml('BUNDESSTRA&SZLIG;E')).toBe('BUNDESSTRASSE');
    expect(ftfyUnescapeHtml('&ntilde; &Ntilde; &NTILDE; &nTILDE;')).toBe('ñ Ñ Ñ &nTILDE;');
  });

  it('keeps a numeric reference whose decoding would leave its semicolon behind', () => {
    expect(ftfyUnescapeHtml('&#x2019;')).toBe('\u2019');
    expect(ftfyUnescapeHtml('&#0;')).toBe('\ufffd');
  });
});
