// Templates and zero-shot scoring arithmetic, independent of any model.
import { describe, expect, it } from 'vitest';
import { normalizeRows, zeroShotScores } from '../src/embeddings.js';
import { UsageError } from '../src/errors.js';
import { fillTemplates, IMAGENET80_TEMPLATES, resolveTemplates, SIMPLE_TEMPLATES } from '../src/templates.js';

describe('templates', () => {
  it('imagenet80 is the 80 distinct prompts of the CLIP paper, each with one {}', () => {
    expect(IMAGENET80_TEMPLATES).toHaveLength(80);
    expect(new Set(IMAGENET80_TEMPLATES).size).toBe(80);
    for (const t of IMAGENET80_TEMPLATES) expect(t.split('{}')).toHaveLength(2);
    expect(IMAGENET80_TEMPLATES[0]).toBe('a bad photo of a {}.');
    expect(IMAGENET80_TEMPLATES[79]).toBe('a tattoo of the {}.');
    expect(resolveTemplates('imagenet80')).toBe(IMAGENET80_TEMPLATES);
  });

  it('simple is "a photo of a {}." and fills every placeholder', () => {
    expect(resolveTemplates('simple')).toEqual(['a photo of a {}.']);
    expect(fillTemplates(SIMPLE_TEMPLATES, 'cat')).toEqual(['a photo of a cat.']);
    expect(fillTemplates(['{} and {}'], 'dog')).toEqual(['dog and dog']);
  });

  it('rejects unknown sets, empty lists and templates without {}', () => {
    expect(() => resolveTemplates('fancy' as never)).toThrow(UsageError);
    expect(() => resolveTemplates([])).toThrow(/empty/);
    expect(() => resolveTemplates(['a {}', 'no placeholder'])).toThrow(/templates\[1\]/);
  });
});

describe('zero-shot scores', () => {
  it('normalises rows to unit length and leaves zero rows alone', () => {
    const m = normalizeRows(Float32Array.from([3, 4, 0, 0, 1, 0]), 2);
    expect(Array.from(m)).toEqual(Array.from(Float32Array.from([0.6, 0.8, 0, 0, 1, 0])));
  });

  it('softmax over logitScale·cos, sorted best first, probabilities sum to 1', () => {
    const dim = 2;
    const images = normalizeRows(Float32Array.from([1, 0, 1, 1]), dim);
    const labels = normalizeRows(Float32Array.from([1, 0, 0, 1, -1, 0]), dim);
    const scale = 10;
    const [first, second] = zeroShotScores(images, labels, ['x', 'y', 'minus-x'], dim, scale);
    // image 0 = (1, 0): logits 10, 0, -10
    const z = [Math.exp(10), 1, Math.exp(-10)];
    const total = z[0]! + z[1]! + z[2]!;
    expect(first!.map((s) => s.label)).toEqual(['x', 'y', 'minus-x']);
    expect(first![0]!.logit).toBeCloseTo(10, 5);
    expect(first![0]!.probability).toBeCloseTo(z[0]! / total, 12);
    expect(first![2]!.probability).toBeCloseTo(z[2]! / total, 12);
    // image 1 = (1, 1)/√2: x and y tie (label order kept), minus-x last
    expect(second!.map((s) => s.label)).toEqual(['x', 'y', 'minus-x']);
    expect(second![0]!.probability).toBeCloseTo(second![1]!.probability, 12);
    for (const scores of [first!, second!]) expect(scores.reduce((a, s) => a + s.probability, 0)).toBeCloseTo(1, 12);
  });
});
