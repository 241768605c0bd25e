// Byte-level BPE as OpenAI's simple_tokenizer does it: a word's UTF-8 bytes are mapped to
// printable stand-in characters, the last one marked with '</w>', and then merged pairwise,
// always the lowest-ranked pair present, every occurrence left to right, until none applies.

const END_OF_WORD = '</w>';

/** Bytes that stand for themselves: printable Latin-1 minus the soft hyphen. */
function printableBytes(): number[] {
  const out: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) out.push(b);
  for (let b = 0xa1; b <= 0xac; b++) out.push(b);
  for (let b = 0xae; b <= 0xff; b++) out.push(b);
  return out;
}

/** Bytes in the order simple_tokenizer lists them: the printable ones, then the rest. */
function byteOrder(): number[] {
  const printable = printableBytes();
  const rest = Array.from({ length: 256 }, (_, b) => b).filter((b) => !printable.includes(b));
  return [...printable, ...rest];
}

/** GPT-2/CLIP's reversible byte → character map that avoids whitespace and control chars:
 * printable bytes stand for themselves, the others for U+0100 onwards. Indexed by byte. */
export function bytesToUnicode(): string[] {
  const printable = new Set(printableBytes());
  const table: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable.has(b) ? b : next++);
  return table;
}

/** The byte symbols in vocabulary order (OpenAI's vocabulary numbers them this way). */
export function byteSymbolsInVocabOrder(): string[] {
  const table = bytesToUnicode();
  return byteOrder().map((b) => table[b]!);
}

const BYTE_ENCODER = bytesToUnicode();
const utf8 = new TextEncoder();

/** The word as BPE sees it: one stand-in character per UTF-8 byte. */
export function byteEncode(word: string): string {
  let out = '';
  for (const b of utf8.encode(word)) out += BYTE_ENCODER[b];
  return out;
}

/** Min-heap of [rank, position] pairs, ordered by rank then position. */
class PairHeap {
  private readonly ranks: number[] = [];
  private readonly positions: number[] = [];

  get size(): number {
    return this.ranks.length;
  }

  private less(i: number, j: number): boolean {
    const ri = this.ranks[i]!;
    const rj = this.ranks[j]!;
    return ri < rj || (ri === rj && this.positions[i]! < this.positions[j]!);
  }

  private swap(i: number, j: number): void {
    [this.ranks[i], this.ranks[j]] = [this.ranks[j]!, this.ranks[i]!];
    [this.positions[i], this.positions[j]] = [this.positions[j]!, this.positions[i]!];
  }

  push(rank: number, position: number): void {
    this.ranks.push(rank);
    this.positions.push(position);
    let i = this.ranks.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peekRank(): number {
    return this.ranks[0]!;
  }

  /** Removes the top entry and returns its position. */
  pop(): number {
    const top = this.positions[0]!;
    const lastRank = this.ranks.pop()!;
    const lastPos = this.positions.pop()!;
    if (this.ranks.length > 0) {
      this.ranks[0] = lastRank;
      this.positions[0] = lastPos;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.ranks.length && this.less(l, m)) m = l;
        if (r < this.ranks.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export class BytePairEncoder {
  /** "left right" → merge rank (lower merges first). */
  private readonly ranks: ReadonlyMap<string, number>;

  constructor(ranks: ReadonlyMap<string, number>) {
    this.ranks = ranks;
  }

  /**
   * Splits a byte-encoded word into its BPE symbols. Equivalent to simple_tokenizer's loop,
   * but each round only touches the pairs it merges (a heap of candidate pairs and a linked
   * list of symbols), so a pathological million-byte word costs O(n log n), not O(n²).
   */
  encodeWord(word: string): string[] {
    const chars = Array.from(word);
    const n = chars.length;
    if (n === 0) return [];
    chars[n - 1] += END_OF_WORD;
    if (n === 1) return chars;

    const symbols: string[] = chars;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap();
    const rankAt = (i: number): number | undefined => {
      const j = next[i]!;
      return j < 0 ? undefined : this.ranks.get(symbols[i] + ' ' + symbols[j]);
    };
    for (let i = 0; i + 1 < n; i++) {
      const r = rankAt(i);
      if (r !== undefined) heap.push(r, i);
    }

    const round: number[] = [];
    while (heap.size > 0) {
      // One round = every occurrence of the lowest-ranked pair, left to right, as in Python;
      // pairs the round creates wait for the next round even if they rank lower.
      const rank = heap.peekRank();
      round.length = 0;
      while (heap.size > 0 && heap.peekRank() === rank) round.push(heap.pop());
      const created: number[] = [];
      for (const i of round) {
        // Skip stale entries: merged away, or the pair at i is no longer this pair.
        if (!alive[i] || rankAt(i) !== rank) continue;
        const j = next[i]!;
        symbols[i] += symbols[j]!;
        alive[j] = 0;
        const k = next[j]!;
        next[i] = k;
        if (k >= 0) prev[k] = i;
        const p = prev[i]!;
        if (p >= 0) created.push(p);
        if (k >= 0) created.push(i);
      }
      for (const i of created) {
        if (!alive[i]) continue;
        const r = rankAt(i);
        if (r !== undefined) heap.push(r, i);
      }
    }

    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(symbols[i]!);
    return out;
  }
}
