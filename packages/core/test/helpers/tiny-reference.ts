// The shared PyTorch reference for the tiny model (../shared/reference/models/tiny), read from its
// expected.json. Absent (a fresh clone): skipWithoutTiny prints why and suites
// `describe.skipIf(skipWithoutTiny(...))`.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const referenceRoot = process.env.CLIPKIT_REFERENCE ?? path.resolve(repoRoot, '..', 'shared', 'reference');
export const tinyModelDir = path.join(referenceRoot, 'models', 'tiny');
const expectedJson = path.join(tinyModelDir, 'expected', 'expected.json');

const tinyAvailable = existsSync(expectedJson);

/** Prints (once per suite) why the conformance tests are skipped; returns whether to skip. */
export function skipWithoutTiny(suite: string): boolean {
  if (!tinyAvailable) console.warn(`[${suite}] skipped: reference data not found at ${expectedJson} (set CLIPKIT_REFERENCE)`);
  return !tinyAvailable;
}

export interface TinyExpected {
  logitScale: number; // ln scale, as stored in the weights
  pixelValues: Float32Array; // [4, 3, 32, 32]
  nImages: number;
  inputIds: Int32Array; // [6, 77]
  nTexts: number;
  contextLength: number;
  imagePooled: Float32Array;
  textPooled: Float32Array;
  imageEmbeds: Float32Array;
  textEmbeds: Float32Array;
  logitsPerImage: Float32Array; // [nImages, nTexts]
}

type Nested = number | Nested[];

function flatten(v: Nested, out: number[] = []): number[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else out.push(v);
  return out;
}

export function loadTinyExpected(): TinyExpected {
  const raw = JSON.parse(readFileSync(expectedJson, 'utf8')) as Record<string, Nested> & {
    shapes: Record<string, number[]>;
    logit_scale: number;
  };
  const f32 = (key: string) => Float32Array.from(flatten(raw[key] as Nested));
  const ids = Int32Array.from(flatten(raw.input_ids as Nested));
  const idShape = raw.shapes.input_ids ?? [];
  return {
    logitScale: raw.logit_scale,
    pixelValues: f32('pixel_values'),
    nImages: raw.shapes.pixel_values?.[0] ?? 0,
    inputIds: ids,
    nTexts: idShape[0] ?? 0,
    contextLength: idShape[1] ?? 0,
    imagePooled: f32('image_pooled'),
    textPooled: f32('text_pooled'),
    imageEmbeds: f32('image_embeds'),
    textEmbeds: f32('text_embeds'),
    logitsPerImage: f32('logits_per_image'),
  };
}

/** Each row's ids with the padding after the first EOT replaced by `pad`. */
export function repadIds(ids: Int32Array, n: number, len: number, eot: number, pad: number): Int32Array {
  const out = ids.slice();
  for (let r = 0; r < n; r++) {
    const row = out.subarray(r * len, (r + 1) * len);
    const at = row.indexOf(eot);
    if (at >= 0) row.fill(pad, at + 1);
  }
  return out;
}

/** logits_per_image[i][t] = logitScale · cos(image i, text t), in float64. */
export function logitsPerImage(images: Float32Array, texts: Float32Array, dim: number, logitScale: number): Float64Array {
  const a = unitRows(images, dim);
  const b = unitRows(texts, dim);
  const ni = a.length / dim;
  const nt = b.length / dim;
  const out = new Float64Array(ni * nt);
  for (let i = 0; i < ni; i++) {
    for (let t = 0; t < nt; t++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += a[i * dim + j]! * b[t * dim + j]!;
      out[i * nt + t] = logitScale * dot;
    }
  }
  return out;
}

function unitRows(x: Float32Array, dim: number): Float64Array {
  const out = Float64Array.from(x);
  for (let r = 0; r < out.length; r += dim) {
    const norm = Math.hypot(...out.subarray(r, r + dim));
    for (let j = 0; j < dim; j++) out[r + j]! /= norm;
  }
  return out;
}
