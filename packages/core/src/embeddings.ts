// Row-wise arithmetic on embedding matrices [n, dim] that the API layer needs: L2 normalisation,
// and the zero-shot scores (softmax over labels of logitScale · cosine similarity).
import type { LabelScore } from './types.js';

/** Scales each row to unit L2 norm in place (all-zero rows stay zero). */
export function normalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let off = 0; off < data.length; off += dim) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += data[off + j]! ** 2;
    if (sum === 0) continue;
    const inv = 1 / Math.sqrt(sum);
    for (let j = 0; j < dim; j++) data[off + j]! *= inv;
  }
  return data;
}

/**
 * Per image: every label with logit = logitScale · (image · label) (rows already normalised) and
 * its softmax probability over the labels, best first (ties keep the labels' order).
 */
export function zeroShotScores(
  images: Float32Array,
  labelEmbeds: Float32Array,
  labels: readonly string[],
  dim: number,
  logitScale: number,
): LabelScore[][] {
  const nImages = images.length / dim;
  const results: LabelScore[][] = [];
  for (let i = 0; i < nImages; i++) {
    const logits = labels.map((_, l) => {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += images[i * dim + j]! * labelEmbeds[l * dim + j]!;
      return logitScale * dot;
    });
    const max = Math.max(...logits);
    const exps = logits.map((z) => Math.exp(z - max));
    const total = exps.reduce((a, b) => a + b, 0);
    const scores = labels.map((label, l) => ({ label, logit: logits[l]!, probability: exps[l]! / total }));
    results.push(scores.sort((a, b) => b.probability - a.probability));
  }
  return results;
}
