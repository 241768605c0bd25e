// Activation buffer sets, allocated once per batch size and reused: fresh pages cost ~0.6 µs per
// 4 KiB here (MACHINE-NOTES), so a per-call allocation would be a measurable share of a batch.
// With prefix views (CPU) one set of the largest batch seen serves every smaller batch; device
// buffers have no views, so sets are kept per exact batch size (the full chunk and a remainder).
import type { DeviceMemory } from './memory.js';

export interface BufferSet {
  /** Batch size the buffers were sized for. */
  readonly capacity: number;
}

const DEVICE_SETS = 2;

export class BufferPool<T extends BufferSet> {
  private sets: T[] = [];

  constructor(
    private readonly memory: DeviceMemory,
    private readonly create: (capacity: number) => T,
    private readonly free: (set: T) => void,
  ) {}

  acquire(n: number): T {
    if (this.memory.prefixViews) {
      const current = this.sets[0];
      if (current !== undefined && current.capacity >= n) return current;
      if (current !== undefined) this.free(current);
      this.sets = [this.create(n)];
      return this.sets[0]!;
    }
    const at = this.sets.findIndex((s) => s.capacity === n);
    const set = at >= 0 ? this.sets.splice(at, 1)[0]! : this.create(n);
    this.sets.unshift(set); // most recently used first
    for (const old of this.sets.splice(DEVICE_SETS)) this.free(old);
    return set;
  }

  dispose(): void {
    for (const set of this.sets) this.free(set);
    this.sets = [];
  }
}
