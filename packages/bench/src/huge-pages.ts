// How this process's large anonymous mappings are backed (Linux /proc/self/smaps): a top-k over
// a matrix on 4 KiB pages runs up to 1.8× slower on these VMs than over 2 MiB pages, so a
// comparison of two matrices states how they were backed.
import { readFileSync } from 'node:fs';

/**
 * For each mapping of exactly `bytes` (rounded up to pages), the share on 2 MiB pages, e.g.
 * ["100%", "100%"]; null where smaps cannot be read. Matrices of one shape cannot be told apart
 * here (an address is not visible from JS), so a caller reads them all.
 */
export function hugePageShares(bytes: number): string[] | null {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const wantKb = Math.ceil(bytes / 4096) * 4;
  const shares: string[] = [];
  let sizeKb = 0;
  for (const line of smaps.split('\n')) {
    const field = /^(Size|AnonHugePages):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    if (field[1] === 'Size') sizeKb = Number(field[2]);
    else if (sizeKb === wantKb) shares.push(`${Math.round((100 * Number(field[2])) / wantKb)}%`);
  }
  return shares;
}
