// The page of `clipkit serve` in a real browser: Debian's Chromium driven by playwright-core
// (never a downloaded browser). Types a query, checks the grid shows the API's thumbnails, opens
// "similar", uploads an image, opens a result and the duplicates view (selecting copies lists and
// copies their paths), at desktop and phone width, with no CSP violation or script error.
// Screenshots go to the test's temp dir; with CLIPKIT_README_SCREENSHOT=FILE the search view is
// also saved there (npm run screenshot).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../src/library/index.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { makePhotoLibrary, picture, type PhotoLibrary } from './helpers/photo-library.js';
import { scratchDir } from './helpers/tmp-dir.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
const CHROMIUM = process.env.CLIPKIT_CHROMIUM ?? '/usr/bin/chromium';
const tmp = scratchDir('serve-e2e');

/** Launches Chromium, or says why it cannot (the suite is then skipped with that reason). */
async function launch(): Promise<Browser | string> {
  if (!fs.existsSync(CHROMIUM)) return `no browser at ${CHROMIUM} (apt-get install chromium, or set CLIPKIT_CHROMIUM)`;
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      // playwright gives each launch a fresh temporary profile (it refuses --user-data-dir).
    });
  } catch (err) {
    return `${CHROMIUM} cannot be launched: ${(err as Error).message.split('\n')[0]}`;
  }
}

const work = tmp();
const browserOrReason = await launch();
const browser = typeof browserOrReason === 'string' ? null : browserOrReason;
if (!browser) console.warn(`[serve-e2e] skipped: ${browserOrReason as string}`);

describe.skipIf(!browser)('clipkit serve in Chromium', () => {
  let lib: PhotoLibrary;
  let tiff: string;
  let db: string;
  let server: ChildProcess;
  let url: string;
  let page: Page;
  const shots = path.join(work, 'screenshots');
  const problems: string[] = [];

  beforeAll(async () => {
    const modelDir = writeRandomClipModel(path.join(work, 'model'), { seed: 11, initStd: 0.1 }).dir;
    lib = await makePhotoLibrary(path.join(work, 'photos'), { photos: 40, seed: 6, size: 96 });
    // A TIFF scan: catalogued and thumbnailed, but not a format browsers display.
    tiff = path.join(lib.root, 'scans', 'scan.tiff');
    fs.mkdirSync(path.dirname(tiff), { recursive: true });
    await sharp(picture(77, 96), { raw: { width: 96, height: 96, channels: 3 } }).tiff().toFile(tiff);
    db = path.join(work, 'clipkit.db');
    const library = await Library.open(db, { model: modelDir });
    try {
      await library.import(lib.root);
    } finally {
      await library.close();
    }
    server = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0] as string) as { url: string }).url);
      });
      server.on('close', (code) => reject(new Error(`clipkit serve exited ${code}`)));
    });
    fs.mkdirSync(shots, { recursive: true });
    page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()} for ${r.url()}`));
    console.log(`[serve-e2e] screenshots in ${shots}`);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  const api = async <T>(p: string, init?: RequestInit): Promise<T> => (await fetch(new URL(p, url), init)).json() as Promise<T>;
  const gridIds = () => page.locator('#grid .tile').evaluateAll((tiles) => tiles.map((t) => Number((t as HTMLElement).dataset.id)));
  const idOf = async (file: string) => {
    const { results } = await api<{ results: Array<{ id: number; path: string }> }>('/api/search?k=5', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: fs.readFileSync(file),
    });
    return results.find((r) => r.path === file)?.id as number;
  };

  it('searches by typed query: the grid shows the API results in order, thumbnails loaded, query in the URL', async () => {
    await page.goto(url);
    await page.keyboard.press('/'); // keyboard: "/" focuses the search box
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('q');
    // "Search by image…" is one tab stop (its hidden file input is not a second, invisible one).
    await page.focus('#image-label');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('labels');
    await page.focus('#q');
    const query = '"a red square" + "sunset"';
    await page.keyboard.type(query);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#grid .tile img');
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#grid img')].slice(0, 12).every((i) => i.complete && i.naturalWidth > 0));
    const { results } = await api<{ results: Array<{ id: number }> }>(`/api/search?${new URLSearchParams({ q: query, k: '50' })}`);
    expect(await gridIds()).toEqual(results.map((r) => r.id));
    expect(new URL(page.url()).searchParams.get('q')).toBe(query);
    expect(await page.locator('#status').innerText()).toBe(`${results.length} results for ${query}.`);
    await page.screenshot({ path: path.join(shots, '1-search.png') });
    const readme = process.env.CLIPKIT_README_SCREENSHOT;
    if (readme) {
      await page.setViewportSize({ width: 1000, height: 620 });
      // Palette PNG: the committed screenshot stays small.
      await sharp(await page.screenshot()).png({ palette: true, quality: 80, compressionLevel: 9 }).toFile(readme);
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    // A reload of the shared URL shows the same results.
    await page.reload();
    await page.waitForSelector('#grid .tile');
    expect(await gridIds()).toEqual(results.map((r) => r.id));
  });

  it('opens a result larger with its path, and "similar" from there and from the grid', async () => {
    const third = (await gridIds())[2] as number;
    await page.locator('#grid .tile .open').nth(2).click();
    await page.waitForSelector('#detail[open] #detail-facts dd');
    const facts = await page.locator('#detail-facts').innerText();
    const info = await api<{ path: string }>(`/api/file/${third}`);
    expect(facts).toContain(info.path);
    await page.waitForFunction(() => (document.getElementById('detail-image') as HTMLImageElement).naturalWidth > 0);
    await page.screenshot({ path: path.join(shots, '2-detail.png') });
    await page.keyboard.press('Escape');
    await page.locator('#grid .tile .similar').nth(2).click();
    await page.waitForURL(/similar=/);
    await page.waitForFunction((id) => (document.querySelector('#grid .tile') as HTMLElement | null)?.dataset.id === String(id), third);
    const { results } = await api<{ results: Array<{ id: number }> }>(`/api/similar/${third}?k=50`);
    expect(await gridIds()).toEqual(results.map((r) => r.id));
    await page.screenshot({ path: path.join(shots, '3-similar.png') });
  });

  it('opens a TIFF larger as its thumbnail (browsers cannot display the original)', async () => {
    const id = await idOf(tiff);
    await page.goto(`${url}?similar=${id}`);
    await page.waitForFunction((want) => (document.querySelector('#grid .tile') as HTMLElement | null)?.dataset.id === String(want), id);
    await page.locator('#grid .tile .open').first().click();
    await page.waitForSelector('#detail[open] #detail-facts dd');
    await page.waitForFunction(() => (document.getElementById('detail-image') as HTMLImageElement).naturalWidth > 0);
    expect(await page.locator('#detail-original').getAttribute('href')).toBe(`/api/image/${id}`);
    await page.keyboard.press('Escape');
  });

  it('searches by an uploaded image: that photo comes first', async () => {
    const file = lib.images[7] as string;
    const id = await idOf(file);
    await page.locator('#image-input').setInputFiles(file);
    await page.waitForFunction((want) => (document.querySelector('#grid .tile') as HTMLElement | null)?.dataset.id === String(want), id);
    expect((await gridIds())[0]).toBe(id);
    await page.screenshot({ path: path.join(shots, '4-upload.png') });
  });

  it('classifies selected photos by typed labels', async () => {
    await page.locator('#grid .tile .select').nth(0).check();
    await page.locator('#grid .tile .select').nth(1).check();
    await page.fill('#labels', 'dog, cat, beach');
    await page.press('#labels', 'Enter');
    await page.waitForSelector('#grid .tile:nth-child(2) .labels li');
    expect(await page.locator('#grid .tile:nth-child(1) .labels li').count()).toBe(3);
    expect(await page.locator('#grid .tile:nth-child(3) .labels li').count()).toBe(0);
  });

  it('shows the duplicates view with the byte-identical copies grouped, threshold adjustable', async () => {
    await page.click('#nav-duplicates');
    await page.fill('#threshold', '0.999');
    await page.click('#dup-form button');
    await page.waitForURL(/threshold=0.999/);
    await page.waitForSelector('#groups .group');
    const { groups } = await api<{ groups: unknown[] }>('/api/duplicates?threshold=0.999');
    expect(await page.locator('#groups .group').count()).toBe(groups.length);
    expect(groups.length).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(shots, '5-duplicates.png'), fullPage: true });
  });

  it('lists the paths of the selected duplicates, selects all but the first of each group, copies and clears', async () => {
    const { groups } = await api<{ groups: Array<{ files: Array<{ id: number; path: string }> }> }>('/api/duplicates?threshold=0.999');
    const selected = () => page.locator('#dup-selected').inputValue();
    expect(await page.locator('#dup-actions').isVisible()).toBe(true);
    expect(await selected()).toBe('');
    // One box by hand: its path, and the count.
    const first = groups[0]!.files;
    await page.locator('#groups .group').nth(0).locator('.tile .select').nth(1).check();
    expect(await selected()).toBe(first[1]!.path);
    expect(await page.locator('#dup-count').innerText()).toBe('1');
    // Keep one photo per group: every other copy's path, in the groups' order.
    await page.click('#dup-all-but-first');
    const copies = groups.flatMap((g) => g.files.slice(1).map((f) => f.path));
    expect(await selected()).toBe(copies.join('\n'));
    expect(await page.locator('#dup-count').innerText()).toBe(String(copies.length));
    expect(await page.locator('#groups .tile.selected').count()).toBe(copies.length);
    expect(await page.locator('#groups .group .grid > .tile:first-child.selected').count()).toBe(0);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
    await page.click('#dup-copy');
    await page.waitForFunction(() => /^Copied \d+ paths?\.$/.test(document.getElementById('dup-status')?.textContent ?? ''));
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(copies.join('\n'));
    await page.click('#dup-clear');
    expect(await selected()).toBe('');
    expect(await page.locator('#groups .tile.selected').count()).toBe(0);
    expect(await page.locator('#groups .tile .select:checked').count()).toBe(0);
  });

  it('is readable at phone width (no horizontal scrolling) and ran without CSP violations or script errors', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}?q=beach`);
    await page.waitForSelector('#grid .tile img');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(shots, '6-phone.png') });
    expect(problems, problems.join("\n")).toEqual([]);
  });
});
