// How `clipkit import` reports progress: a live bar on a terminal, a plain line every few
// seconds otherwise (logs, CI), nothing with --json (stdout carries the summary).
import cliProgress from 'cli-progress';
import type { ImportJob, ImportProgress } from '../library/index.js';

const PLAIN_INTERVAL_MS = 5000;

export function reportProgress(job: ImportJob, mode: 'bar' | 'plain' | 'none'): void {
  if (mode === 'bar') attachBar(job);
  else if (mode === 'plain') attachPlain(job);
}

function attachBar(job: ImportJob): void {
  const bar = new cliProgress.SingleBar(
    {
      format: 'import |{bar}| {value}/{total} files | {rate} images/s | ETA {etaText} | {errors} errors',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  job.on('progress', (p) => {
    const payload = { rate: p.imagesPerSecond.toFixed(1), etaText: formatEta(p), errors: p.errors };
    if (p.phase === 'scan') return;
    if (!started) {
      started = true;
      process.stderr.write(`scanned ${p.scanned} files, ${p.unchanged} unchanged\n`);
      bar.start(p.total, p.done, payload);
      return;
    }
    bar.setTotal(p.total);
    bar.update(p.done, payload);
    if (p.phase === 'done') bar.stop();
  });
  job.result.catch(() => bar.stop());
}

function attachPlain(job: ImportJob): void {
  let last = 0;
  job.on('progress', (p) => {
    const now = Date.now();
    const edge = p.phase === 'done' || (p.phase === 'encode' && p.done === 0);
    if (!edge && now - last < PLAIN_INTERVAL_MS) return;
    last = now;
    process.stderr.write(`${plainLine(p)}\n`);
  });
}

function plainLine(p: ImportProgress): string {
  if (p.phase === 'scan') return `import: scanning, ${p.scanned} files found`;
  return (
    `import: ${p.done}/${p.total} files, ${p.encoded} encoded, ${p.imagesPerSecond.toFixed(1)} images/s, ` +
    `ETA ${formatEta(p)}, ${p.errors} errors`
  );
}

function formatEta(p: ImportProgress): string {
  if (p.etaSeconds === null) return '?';
  const s = Math.round(p.etaSeconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
