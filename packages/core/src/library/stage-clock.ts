// Busy time of one pipeline stage: wall-clock seconds during which at least one call of the
// stage was in flight (overlapping calls count once), and how many items it finished. Summed
// per-call times would exceed the wall clock for a stage with several calls at once (decoding
// runs `concurrency` images in parallel); the union is what bounds the pipeline.

export interface StageTiming {
  /** Seconds during which the stage had work in flight. */
  seconds: number;
  /** Items the stage finished (files read, images decoded, …). */
  items: number;
  /** items / seconds: the rate this stage alone would sustain; 0 when it never ran. */
  itemsPerSecond: number;
}

export class StageClock {
  private active = 0;
  private since = 0;
  private busyMs = 0;
  private items = 0;

  /** Marks a call as started; the returned function ends it, crediting `items` to the stage. */
  begin(): (items?: number) => void {
    if (this.active++ === 0) this.since = performance.now();
    let ended = false;
    return (items = 1) => {
      if (ended) return;
      ended = true;
      this.items += items;
      if (--this.active === 0) this.busyMs += performance.now() - this.since;
    };
  }

  /** Runs fn as one call of the stage. */
  async time<T>(fn: () => Promise<T>, items = 1): Promise<T> {
    const end = this.begin();
    try {
      return await fn();
    } finally {
      end(items);
    }
  }

  /**
   * Credits work timed elsewhere (inside a fused native call) as busy time of its own: summed,
   * not merged with overlapping calls, so use it only for a stage that nothing else times.
   */
  credit(seconds: number, items = 1): void {
    this.busyMs += seconds * 1000;
    this.items += items;
  }

  timing(): StageTiming {
    const ms = this.busyMs + (this.active > 0 ? performance.now() - this.since : 0);
    const seconds = ms / 1000;
    return { seconds, items: this.items, itemsPerSecond: seconds > 0 ? this.items / seconds : 0 };
  }
}

/** The two stages inside image preprocessing, timed per image by ImagePreprocessor. */
export interface PreprocessClocks {
  decode: StageClock;
  preprocess: StageClock;
}
