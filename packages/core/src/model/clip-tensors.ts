// The Hugging Face CLIPModel parameters a config implies: names and shapes. openWeights validates
// model.safetensors against this list before the native backend reads any weight, and the
// random-model generator writes it, so generated models and the checks agree by construction.
import type { ClipConfig } from './config.js';
import type { SafetensorsFile } from './safetensors.js';
import { ModelFormatError } from '../errors.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** How a freshly initialised model fills it (the generator uses this; loaders ignore it). */
  init: 'normal' | 'norm-scale' | 'logit_scale';
}

function encoderLayers(prefix: string, layers: number, hidden: number, mlp: number): TensorSpec[] {
  const out: TensorSpec[] = [];
  for (let i = 0; i < layers; i++) {
    const p = `${prefix}.encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      out.push({ name: `${p}.self_attn.${proj}.weight`, shape: [hidden, hidden], init: 'normal' });
      out.push({ name: `${p}.self_attn.${proj}.bias`, shape: [hidden], init: 'normal' });
    }
    out.push({ name: `${p}.layer_norm1.weight`, shape: [hidden], init: 'norm-scale' });
    out.push({ name: `${p}.layer_norm1.bias`, shape: [hidden], init: 'normal' });
    out.push({ name: `${p}.mlp.fc1.weight`, shape: [mlp, hidden], init: 'normal' });
    out.push({ name: `${p}.mlp.fc1.bias`, shape: [mlp], init: 'normal' });
    out.push({ name: `${p}.mlp.fc2.weight`, shape: [hidden, mlp], init: 'normal' });
    out.push({ name: `${p}.mlp.fc2.bias`, shape: [hidden], init: 'normal' });
    out.push({ name: `${p}.layer_norm2.weight`, shape: [hidden], init: 'norm-scale' });
    out.push({ name: `${p}.layer_norm2.bias`, shape: [hidden], init: 'normal' });
  }
  return out;
}

/** Every parameter of HF CLIPModel for this config (pre_layrnorm is HF's spelling). */
/** Tensors of one encoder layer in expectedClipTensors. */
const TENSORS_PER_LAYER = 16;

export function expectedClipTensors(config: ClipConfig): TensorSpec[] {
  const { vision: v, text: t, projectionDim } = config;
  const patches = (v.imageSize / v.patchSize) ** 2;
  return [
    { name: 'logit_scale', shape: [], init: 'logit_scale' },
    { name: 'text_model.embeddings.token_embedding.weight', shape: [t.vocabSize, t.hiddenSize], init: 'normal' },
    { name: 'text_model.embeddings.position_embedding.weight', shape: [t.contextLength, t.hiddenSize], init: 'normal' },
    ...encoderLayers('text_model', t.numLayers, t.hiddenSize, t.intermediateSize),
    { name: 'text_model.final_layer_norm.weight', shape: [t.hiddenSize], init: 'norm-scale' },
    { name: 'text_model.final_layer_norm.bias', shape: [t.hiddenSize], init: 'normal' },
    { name: 'text_projection.weight', shape: [projectionDim, t.hiddenSize], init: 'normal' },
    { name: 'vision_model.embeddings.class_embedding', shape: [v.hiddenSize], init: 'normal' },
    {
      name: 'vision_model.embeddings.patch_embedding.weight',
      shape: [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize],
      init: 'normal',
    },
    { name: 'vision_model.embeddings.position_embedding.weight', shape: [patches + 1, v.hiddenSize], init: 'normal' },
    { name: 'vision_model.pre_layrnorm.weight', shape: [v.hiddenSize], init: 'norm-scale' },
    { name: 'vision_model.pre_layrnorm.bias', shape: [v.hiddenSize], init: 'normal' },
    ...encoderLayers('vision_model', v.numLayers, v.hiddenSize, v.intermediateSize),
    { name: 'vision_model.post_layernorm.weight', shape: [v.hiddenSize], init: 'norm-scale' },
    { name: 'vision_model.post_layernorm.bias', shape: [v.hiddenSize], init: 'normal' },
    { name: 'visual_projection.weight', shape: [projectionDim, v.hiddenSize], init: 'normal' },
  ];
}

/**
 * Checks that the file holds every tensor the config needs with the implied shape and a float
 * dtype. `logit_scale` may be absent (the config's logit_scale_init_value is used then).
 * Throws one ModelFormatError listing every problem, so a broken conversion is fixed in one go.
 */
export function validateClipTensors(file: SafetensorsFile, config: ClipConfig): void {
  // Layer counts are bounded by config.ts already; the file must also hold that many tensors.
  const layers = config.vision.numLayers + config.text.numLayers;
  const held = file.names().length;
  if (layers * TENSORS_PER_LAYER > held) {
    throw new ModelFormatError(
      `config.json implies ${config.text.numLayers} text and ${config.vision.numLayers} vision layers, more than the ${held} tensors of ${file.path} can hold: is config.json the one that came with these weights?`,
      file.path,
    );
  }
  const problems: string[] = [];
  const expected = expectedClipTensors(config);
  for (const spec of expected) {
    const info = file.info(spec.name);
    if (info === undefined) {
      if (spec.name !== 'logit_scale') problems.push(`"${spec.name}" is missing`);
      continue;
    }
    const shapeOk =
      info.shape.length === spec.shape.length && info.shape.every((d, i) => d === spec.shape[i]) ||
      // Some exports store the scalar logit_scale as shape [1].
      (spec.name === 'logit_scale' && info.shape.length === 1 && info.shape[0] === 1);
    if (!shapeOk) {
      problems.push(`"${spec.name}" has shape [${info.shape.join(', ')}], config implies [${spec.shape.join(', ')}]`);
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      problems.push(`"${spec.name}" has dtype ${info.dtype}, expected F32, F16 or BF16`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    const more = problems.length > 8 ? ` (and ${problems.length - 8} more)` : '';
    // Most tensors wrong: the config describes another model (a `{}` config gets ViT-B/32's defaults).
    const hint = problems.length > expected.length / 2 ? `${problems.length} of ${expected.length} tensors disagree, is config.json the one that came with these weights? ` : '';
    throw new ModelFormatError(`weights do not match config.json: ${hint}${shown}${more}`, file.path);
  }
}
