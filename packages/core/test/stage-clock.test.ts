import { describe, expect, it } from 'vitest';
import { StageClock } from '../src/library/stage-clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StageClock', () => {
  it('counts overlapping calls once and credits their items', async () => {
    const clock = new StageClock();
    const t0 = performance.now();
    await Promise.all([clock.time(() => sleep(60), 2), clock.time(() => sleep(60), 3)]);
    const wall = (performance.now() - t0) / 1000;
    const t = clock.timing();
    expect(t.items).toBe(5);
    // Two 60 ms calls side by side: busy about 60 ms, never their 120 ms sum.
    expect(t.seconds).toBeGreaterThanOrEqual(0.055);
    expect(t.seconds).toBeLessThanOrEqual(wall);
    expect(t.itemsPerSecond).toBeCloseTo(5 / t.seconds, 6);
  });

  it('leaves idle gaps out, ends a call once, and credits a failed call', async () => {
    const clock = new StageClock();
    const t0 = performance.now();
    const end = clock.begin();
    await sleep(30);
    end(1);
    end(1); // a second end is ignored
    const idleFrom = performance.now();
    await sleep(80);
    const idle = (performance.now() - idleFrom) / 1000;
    await expect(clock.time(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const wall = (performance.now() - t0) / 1000;
    const t = clock.timing();
    expect(t.items).toBe(2);
    expect(t.seconds).toBeGreaterThanOrEqual(0.025);
    expect(t.seconds).toBeLessThanOrEqual(wall - idle);
  });

  it('adds work timed inside a fused native call on top of what it timed itself', async () => {
    const clock = new StageClock();
    await clock.time(() => sleep(20));
    const before = clock.timing();
    clock.credit(0.5, 3);
    const t = clock.timing();
    expect(t.items).toBe(before.items + 3);
    expect(t.seconds).toBeCloseTo(before.seconds + 0.5, 6);
  });

  it('reports zeros for a stage that never ran', () => {
    expect(new StageClock().timing()).toEqual({ seconds: 0, items: 0, itemsPerSecond: 0 });
  });
});
