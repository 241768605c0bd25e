// How this process's large anonymous mappings are backed (Linux /proc/self/smaps): a top-k over
// a matrix on 4 KiB pages runs up to 1.8× slower on these VMs than over 2 MiB pages, so a
// comparison of two matrices states how each one was backed.
import { readFileSync } from 'node:fs';

/** Address range → KiB backed by 2 MiB pages, for each mapping of exactly `bytes` (page-rounded); null where smaps cannot be read. */
export function mappingsOfSize(bytes: number): Map<string, number> | null {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const wantKb = Math.ceil(bytes / 4096) * 4;
  const out = new Map<string, number>();
  let range: string | null = null;
  let sizeKb = 0;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+-[0-9a-f]+) /.exec(line);
    if (head) {
      range = head[1]!;
      continue;
    }
    const field = /^(Size|AnonHugePages):\s+(\d+) kB/.exec(line);
    if (!field || range === null) continue;
    if (field[1] === 'Size') sizeKb = Number(field[2]);
    else if (sizeKb === wantKb) out.set(range, Number(field[2]));
  }
  return out;
}

/** The one mapping of `bytes` that appeared since `before`, or null when that is not clear. */
export function newMapping(before: Map<string, number> | null, bytes: number): string | null {
  const after = mappingsOfSize(bytes);
  if (before === null || after === null) return null;
  const added = [...after.keys()].filter((r) => !before.has(r));
  return added.length === 1 ? added[0]! : null;
}

/** Share of the mapping `range` on 2 MiB pages now, e.g. "100%"; "?" when it is not found. */
export function hugeShare(range: string | null, bytes: number): string {
  const kb = range === null ? undefined : mappingsOfSize(bytes)?.get(range);
  return kb === undefined ? '?' : `${Math.round((100 * kb) / (Math.ceil(bytes / 4096) * 4))}%`;
}
