// Model directories: discovery of both layouts, and the table of broken directories, each of
// which must give a ModelFormatError that names the file and the problem.
import { mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../src/backends/onnx.js';
import { ModelFormatError } from '../src/errors.js';
import { openModelDir, openWeights } from '../src/model/model-dir.js';
import { OnnxGraph } from '../src/testing/onnx-graph.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { Prng } from '../src/testing/prng.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('model-dir');
const SIZE = 16;
const DIM = 8;

function freshModel(): string {
  const dir = tmp();
  writeRandomClipModel(dir, {
    seed: 7,
    onnx: true,
    vision: { imageSize: SIZE, patchSize: 8, hidden: 16, layers: 1, heads: 2, mlp: 32 },
    text: { vocabSize: 520, hidden: 16, layers: 1, heads: 2, mlp: 32, contextLength: 8 },
    projectionDim: DIM,
  });
  return dir;
}

/** Rewrites a safetensors header through `edit`, keeping the data bytes. */
function editHeader(file: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): void {
  const bytes = readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8'));
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([prefix, json, bytes.subarray(8 + len)]));
}

function editJson(file: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

/** A loadable vision graph: pixel_values (plus `extra`) → a [batch, DIM] output. */
function visionGraphWithExtraInput(file: string): void {
  const g = new OnnxGraph('bad_vision');
  const px = g.input('pixel_values', 'float32', ['batch_size', 3, SIZE, SIZE]);
  g.input('extra', 'float32', ['batch_size', 4]);
  const w = g.floats('w', [3 * SIZE * SIZE, DIM], new Prng(1).fillNormal(new Float32Array(3 * SIZE * SIZE * DIM), 0.02));
  g.node('MatMul', [g.node('Flatten', [px], { axis: 1 }), w], {}, 'image_embeds');
  g.output('image_embeds', 'float32', ['batch_size', DIM]);
  g.write(file);
}

/** A text graph whose token input is float32 instead of integer ids. */
function textGraphWithFloatIds(file: string): void {
  const g = new OnnxGraph('bad_text');
  const ids = g.input('input_ids', 'float32', ['batch_size', 8]);
  const w = g.floats('w', [8, DIM], new Prng(2).fillNormal(new Float32Array(8 * DIM), 0.02));
  g.node('MatMul', [ids, w], {}, 'text_embeds');
  g.output('text_embeds', 'float32', ['batch_size', DIM]);
  g.write(file);
}

type Step = 'open' | 'weights' | 'onnx';

interface BadCase {
  name: string;
  break: (dir: string) => void;
  step: Step;
  error: RegExp;
  /** The file the error must name (relative to the model dir; '' = the directory). */
  file: string;
}

const cases: BadCase[] = [
  { name: 'missing config.json', break: (d) => rmSync(path.join(d, 'config.json')), step: 'open', error: /config.json is missing; found: .*model.safetensors/, file: '' },
  { name: 'config not JSON', break: (d) => writeFileSync(path.join(d, 'config.json'), '{"projection_dim": 8,'), step: 'open', error: /not valid JSON/, file: 'config.json' },
  {
    name: 'unknown activation',
    break: (d) => editJson(path.join(d, 'config.json'), (j) => (j.vision_config.hidden_act = 'swish')),
    step: 'open',
    error: /vision_config.hidden_act: unsupported activation "swish"/,
    file: 'config.json',
  },
  {
    name: 'preprocessor crop differs from the image size',
    break: (d) => editJson(path.join(d, 'preprocessor_config.json'), (j) => (j.crop_size = { height: 24, width: 24 })),
    step: 'open',
    error: /crop_size 24 differs from the vision image_size 16/,
    file: 'preprocessor_config.json',
  },
  { name: 'missing model.safetensors', break: (d) => rmSync(path.join(d, 'model.safetensors')), step: 'weights', error: /lacks model.safetensors; found: config.json/, file: '' },
  { name: 'missing text ONNX', break: (d) => rmSync(path.join(d, 'onnx', 'text_model.onnx')), step: 'onnx', error: /lacks onnx\/text_model.onnx/, file: '' },
  {
    name: 'truncated safetensors',
    break: (d) => {
      const f = path.join(d, 'model.safetensors');
      truncateSync(f, statSync(f).size - 100);
    },
    step: 'weights',
    error: /run past the \d+-byte data region \(truncated file\?\)/,
    file: 'model.safetensors',
  },
  {
    name: 'safetensors header length 2^60',
    break: (d) => {
      const f = path.join(d, 'model.safetensors');
      const bytes = readFileSync(f);
      bytes.writeBigUInt64LE(2n ** 60n, 0);
      writeFileSync(f, bytes);
    },
    step: 'weights',
    error: /header length 1152921504606846976 exceeds/,
    file: 'model.safetensors',
  },
  {
    name: 'overlapping tensor offsets',
    break: (d) =>
      editHeader(path.join(d, 'model.safetensors'), (h) => {
        const a = h['vision_model.post_layernorm.weight']!;
        h['vision_model.post_layernorm.bias']!.data_offsets = [...a.data_offsets];
      }),
    step: 'weights',
    error: /"vision_model.post_layernorm.(weight|bias)" \[\d+, \d+\) and "vision_model.post_layernorm.(weight|bias)" \[\d+, \d+\) overlap/,
    file: 'model.safetensors',
  },
  {
    name: 'unknown dtype',
    break: (d) => editHeader(path.join(d, 'model.safetensors'), (h) => (h['text_projection.weight']!.dtype = 'I8')),
    step: 'weights',
    error: /"text_projection.weight": unsupported dtype "I8"/,
    file: 'model.safetensors',
  },
  {
    name: 'integer dtype where weights are needed',
    break: (d) =>
      editHeader(path.join(d, 'model.safetensors'), (h) => {
        const t = h['text_projection.weight']!;
        t.dtype = 'I32';
      }),
    step: 'weights',
    error: /"text_projection.weight" has dtype I32, expected F32, F16 or BF16/,
    file: 'model.safetensors',
  },
  {
    name: 'weights of another shape than config.json implies',
    break: (d) => editJson(path.join(d, 'config.json'), (j) => (j.vision_config.intermediate_size = 64)),
    step: 'weights',
    error: /weights do not match config.json: "vision_model.encoder.layers.0.mlp.fc1.weight" has shape \[32, 16\], config implies \[64, 16\]/,
    file: 'model.safetensors',
  },
  {
    name: 'missing tensor',
    break: (d) => editHeader(path.join(d, 'model.safetensors'), (h) => delete h['vision_model.pre_layrnorm.bias']),
    step: 'weights',
    error: /"vision_model.pre_layrnorm.bias" is missing/,
    file: 'model.safetensors',
  },
  {
    name: 'ONNX vision model with an unexpected input',
    break: (d) => visionGraphWithExtraInput(path.join(d, 'onnx', 'vision_model.onnx')),
    step: 'onnx',
    error: /unexpected vision inputs \(pixel_values: float32 \[batch_size, 3, 16, 16\], extra: float32 \[batch_size, 4\]\)/,
    file: 'onnx/vision_model.onnx',
  },
  {
    name: 'ONNX text model taking float ids',
    break: (d) => textGraphWithFloatIds(path.join(d, 'onnx', 'text_model.onnx')),
    step: 'onnx',
    error: /unexpected text inputs \(input_ids: float32 \[batch_size, 8\]\)/,
    file: 'onnx/text_model.onnx',
  },
  {
    name: 'ONNX file that is not a model',
    break: (d) => writeFileSync(path.join(d, 'onnx', 'vision_model.onnx'), 'not protobuf at all'),
    step: 'onnx',
    error: /onnxruntime cannot load this model/,
    file: 'onnx/vision_model.onnx',
  },
];

async function load(dir: string, step: Step): Promise<void> {
  const model = openModelDir(dir, step === 'weights' ? { weights: true } : step === 'onnx' ? { onnx: true } : {});
  if (step === 'weights') openWeights(model);
  if (step === 'onnx') (await createOnnxBackend(model, { threads: 1 })).dispose();
}

describe('broken model directories', () => {
  it('the unbroken fixture loads at every step', async () => {
    const dir = freshModel();
    for (const step of ['open', 'weights', 'onnx'] as const) await load(dir, step);
  });

  it.each(cases)('$name → ModelFormatError', async (c) => {
    const dir = freshModel();
    c.break(dir);
    const err = await load(dir, c.step).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as Error).message).toMatch(c.error);
    expect((err as ModelFormatError).path).toBe(path.join(dir, c.file));
  });

  it('names a directory that does not exist', () => {
    const missing = path.join(tmp(), 'nope');
    expect(() => openModelDir(missing)).toThrow(ModelFormatError);
    expect(() => openModelDir(missing)).toThrow(/model directory not found/);
  });
});

describe('model directory discovery', () => {
  it('finds the Hugging Face layout and reads logit_scale from the weights', () => {
    const dir = freshModel();
    const m = openModelDir(dir);
    expect(m.files).toMatchObject({
      layout: 'hf',
      safetensors: path.join(dir, 'model.safetensors'),
      visionOnnx: path.join(dir, 'onnx', 'vision_model.onnx'),
      textOnnx: path.join(dir, 'onnx', 'text_model.onnx'),
      tokenizer: { kind: 'vocab+merges' },
    });
    expect(m.info).toMatchObject({ id: path.basename(dir), projectionDim: DIM, imageSize: SIZE, contextLength: 8, configHash: m.config.configHash });
    expect(m.info.logitScale).toBeCloseTo(1 / 0.07, 4);
  });

  it('finds the Immich/open_clip layout and its preprocess_cfg.json', () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'visual'));
    mkdirSync(path.join(dir, 'textual'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ embed_dim: 512, vision_cfg: { image_size: 224, layers: 12, width: 768, patch_size: 32 }, text_cfg: { width: 512, heads: 8, layers: 12 } }));
    writeFileSync(path.join(dir, 'visual', 'preprocess_cfg.json'), JSON.stringify({ size: [224, 224], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bicubic' }));
    writeFileSync(path.join(dir, 'visual', 'model.onnx'), '');
    writeFileSync(path.join(dir, 'textual', 'model.onnx'), '');
    writeFileSync(path.join(dir, 'textual', 'tokenizer.json'), '{}');
    const m = openModelDir(dir, { onnx: true, tokenizer: true });
    expect(m.files).toMatchObject({ layout: 'open_clip', safetensors: undefined, tokenizer: { kind: 'tokenizer.json' } });
    expect(m.config.preprocess).toMatchObject({ resizeShortest: 224, cropSize: 224, mean: [0.5, 0.5, 0.5] });
    // No weights to read the learned scale from: CLIP's trained (clamped) value.
    expect(m.info.logitScale).toBe(100);
    expect(() => openModelDir(dir, { weights: true })).toThrow(/lacks model.safetensors \(the open_clip\/Immich layout has ONNX files only\)/);
  });
});
