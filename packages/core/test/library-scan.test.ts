// The folder walk (recursion, hidden entries, symlink loops) and image sniffing by content.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { hasImageExtension, sniffImage, walk } from '../src/library/scan.js';
import { displayMessage, displayPath, storedFsPath } from '../src/util/byte-paths.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('scan');

async function collect(root: string, hidden = false): Promise<string[]> {
  const out: string[] = [];
  for await (const f of walk(root, { hidden })) out.push(path.relative(root, f.path));
  return out;
}

describe('walk', () => {
  it('recurses, skips hidden entries unless asked, and follows links without looping', async () => {
    const root = tmp();
    fs.mkdirSync(path.join(root, 'a/b'), { recursive: true });
    fs.mkdirSync(path.join(root, '.thumbs'));
    fs.writeFileSync(path.join(root, 'a/b/1.jpg'), 'x');
    fs.writeFileSync(path.join(root, 'a/2.png'), 'xy');
    fs.writeFileSync(path.join(root, '.hidden.jpg'), 'x');
    fs.writeFileSync(path.join(root, '.thumbs/t.jpg'), 'x');
    fs.symlinkSync(root, path.join(root, 'a/b/loop')); // a cycle back to the root
    fs.symlinkSync(path.join(root, 'a/2.png'), path.join(root, 'link.png'));
    fs.symlinkSync(path.join(root, 'nowhere'), path.join(root, 'dangling.jpg'));

    expect(await collect(root)).toEqual(['a/2.png', 'a/b/1.jpg', 'link.png']);
    expect(await collect(root, true)).toEqual(['.hidden.jpg', '.thumbs/t.jpg', 'a/2.png', 'a/b/1.jpg', 'link.png']);
  });

  it('finds names that are not UTF-8, shows them escaped and opens them by their bytes', async () => {
    const root = tmp();
    const rootBytes = Buffer.from(root);
    const name = (s: string, ...bytes: number[]) => Buffer.concat([rootBytes, Buffer.from(`/${s}`), Buffer.from(bytes)]);
    fs.writeFileSync(name('caf', 0xe9, 0x2e, 0x6a, 0x70, 0x67), 'latin-1'); // "café.jpg" in Latin-1
    fs.writeFileSync(name('a\\', 0xff), 'backslash and 0xff');
    fs.writeFileSync(path.join(root, 'ünïcode.jpg'), 'utf-8');
    const found = [];
    for await (const f of walk(root)) found.push(f);
    expect(found.map((f) => path.relative(root, f.path)).sort()).toEqual(['a\\\\\\xff', 'caf\\xe9.jpg', 'ünïcode.jpg']);
    for (const f of found) expect(fs.readFileSync(f.fsPath).length).toBe(f.size);
    expect(found.map((f) => fs.readFileSync(f.fsPath, 'utf8')).sort()).toEqual(['backslash and 0xff', 'latin-1', 'utf-8']);
    // What the catalog stores opens the same file again; a UTF-8 name that only looks escaped stays text.
    for (const f of found) expect(Buffer.from(storedFsPath(f.path)).equals(f.fsPath)).toBe(true);
    const literal = path.join(root, 'caf\\xe9.jpg');
    fs.writeFileSync(literal, 'a literal backslash');
    expect(storedFsPath(literal)).toBe(literal);
  });

  it('stores a name that is not UTF-8 with its control characters escaped too, and opens it by its bytes', async () => {
    const root = tmp();
    const raw = Buffer.concat([Buffer.from(root), Buffer.from('/x'), Buffer.from([0xff, 0x1b, 0x0a]), Buffer.from('\u0085.jpg')]);
    fs.writeFileSync(raw, 'controls');
    const found = [];
    for await (const f of walk(root)) found.push(f);
    expect(found.map((f) => path.relative(root, f.path))).toEqual(['x\\xff\\x1b\\x0a\\xc2\\x85.jpg']);
    expect(Buffer.from(storedFsPath(found[0]!.path)).equals(raw)).toBe(true);
    expect(displayPath(found[0]!.path)).toBe(found[0]!.path); // already free of control characters
  });

  it('reports links that leave the root and skips them, unless followLinks', async () => {
    const outside = tmp();
    fs.writeFileSync(path.join(outside, 'secret.jpg'), 'x');
    const root = path.join(outside, 'photos');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'in.jpg'), 'x');
    fs.symlinkSync('..', path.join(root, 'up'));
    fs.symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'out.jpg'));
    fs.symlinkSync('in.jpg', path.join(root, 'same.jpg'));
    const skipped: Array<[string, string | undefined]> = [];
    const onError = (p: string, err: Error) => skipped.push([path.relative(root, p), (err as NodeJS.ErrnoException).code]);
    const files: string[] = [];
    for await (const f of walk(root, { onError })) files.push(path.relative(root, f.path));
    expect(files).toEqual(['in.jpg', 'same.jpg']);
    expect(skipped).toEqual([['out.jpg', 'ELINKOUT'], ['up', 'ELINKOUT']]);
    const followed: string[] = [];
    for await (const f of walk(root, { followLinks: true })) followed.push(path.relative(root, f.path));
    expect(followed).toEqual(['in.jpg', 'out.jpg', 'same.jpg', 'up/secret.jpg']);
  });

  it('reports size and mtime from stat', async () => {
    const root = tmp();
    fs.writeFileSync(path.join(root, 'f.bin'), Buffer.alloc(1234));
    const found = [];
    for await (const f of walk(root)) found.push(f);
    expect(found).toHaveLength(1);
    expect(found[0]?.size).toBe(1234);
    expect(found[0]?.mtimeMs).toBe(fs.statSync(path.join(root, 'f.bin')).mtimeMs);
  });

  it('rejects a missing root or a file with UsageError naming it', async () => {
    const root = tmp();
    fs.writeFileSync(path.join(root, 'file'), 'x');
    await expect(collect(path.join(root, 'nope'))).rejects.toThrow(UsageError);
    await expect(collect(path.join(root, 'file'))).rejects.toThrow(/file: not a folder/);
  });
});

describe('sniffImage', () => {
  const bytes = (...parts: Array<number[] | string>) =>
    Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

  it.each([
    ['jpeg', bytes([0xff, 0xd8, 0xff, 0xe0], 'JFIF')],
    ['png', bytes([0x89], 'PNG', [0x0d, 0x0a, 0x1a, 0x0a])],
    ['gif', bytes('GIF89a')],
    ['webp', bytes('RIFF', [1, 2, 3, 4], 'WEBPVP8 ')],
    ['tiff', bytes('II', [0x2a, 0])],
    ['tiff', bytes('MM', [0, 0x2a])],
    ['avif', bytes([0, 0, 0, 0x20], 'ftypavif')],
    ['heif', bytes([0, 0, 0, 0x18], 'ftypheic')],
    ['jxl', bytes([0xff, 0x0a])],
    ['bmp', bytes('BM', new Array<number>(30).fill(0))],
  ])('recognises %s', (format, head) => {
    expect(sniffImage(head)).toBe(format);
  });

  it('returns null for non-images, short heads and video ftyp brands', () => {
    expect(sniffImage(bytes('hello world, not an image'))).toBeNull();
    expect(sniffImage(bytes([0xff, 0xd8]))).toBeNull();
    expect(sniffImage(new Uint8Array(0))).toBeNull();
    expect(sniffImage(bytes([0, 0, 0, 0x20], 'ftypisom'))).toBeNull();
  });

  it('knows image extensions case-insensitively', () => {
    expect(hasImageExtension('/x/IMG_1.JPG')).toBe(true);
    expect(hasImageExtension('/x/notes.txt')).toBe(false);
  });
});

describe('names and messages shown to a person', () => {
  it('escapes control characters (C0, DEL, C1) as \\xHH per byte and then backslashes as \\\\', () => {
    expect(displayPath('/photos/ünïcode \\ ok.jpg')).toBe('/photos/ünïcode \\ ok.jpg');
    expect(displayPath('/p/a\\b\x1b[31m\n\r\t\x7f\u009b.jpg')).toBe('/p/a\\\\b\\x1b[31m\\x0a\\x0d\\x09\\x7f\\xc2\\x9b.jpg');
  });

  it('shows the named path escaped, joins line breaks and escapes any other control character', () => {
    const p = '/p/evil\n\x1b[2K.jpg';
    expect(displayMessage(`${p}: cannot decode`, p)).toBe('/p/evil\\x0a\\x1b[2K.jpg: cannot decode');
    expect(displayMessage('first line\n  second\x07 line\n')).toBe('first line second\\x07 line');
  });
});
