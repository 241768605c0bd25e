// config.json / preprocessor_config.json parsing: HF and open_clip layouts, HF defaults, pooling
// semantics, and a config hash that follows exactly the fields that change outputs.
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../src/errors.js';
import { canonicalJson, parseClipConfig } from '../src/model/config.js';

const F = '/m/config.json';
const P = '/m/preprocessor_config.json';

const tinyHf = {
  projection_dim: 32,
  text_config: { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 1000, eos_token_id: 999 },
  vision_config: { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, image_size: 32, patch_size: 8 },
};

function configError(fn: () => unknown): ModelFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelFormatError);
    return err as ModelFormatError;
  }
  throw new Error('expected a ModelFormatError');
}

describe('Hugging Face CLIPConfig', () => {
  it('reads the given fields', () => {
    const c = parseClipConfig(tinyHf, F);
    expect(c.layout).toBe('hf');
    expect(c.projectionDim).toBe(32);
    expect(c.vision).toMatchObject({ hiddenSize: 64, numLayers: 2, numHeads: 4, imageSize: 32, patchSize: 8, hiddenAct: 'quick_gelu' });
    expect(c.text).toMatchObject({ vocabSize: 1000, eosTokenId: 999, pooling: 'first-eos', contextLength: 77 });
    expect(c.configHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("fills missing fields with HF's ViT-B/32 defaults", () => {
    const c = parseClipConfig({}, F);
    expect(c.projectionDim).toBe(512);
    expect(c.logitScaleInit).toBeCloseTo(2.6592, 4);
    expect(c.vision).toEqual({
      hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, imageSize: 224, patchSize: 32,
      numChannels: 3, hiddenAct: 'quick_gelu', layerNormEps: 1e-5,
    });
    expect(c.text).toEqual({
      vocabSize: 49408, hiddenSize: 512, intermediateSize: 2048, numLayers: 12, numHeads: 8, contextLength: 77,
      hiddenAct: 'quick_gelu', layerNormEps: 1e-5, bosTokenId: 49406, eosTokenId: 49407, pooling: 'first-eos',
    });
    expect(c.preprocess).toEqual({
      resizeShortest: 224, cropSize: 224, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], resample: 3,
    });
  });

  it('reads *_config_dict sub-configs of old transformers versions', () => {
    const c = parseClipConfig({ text_config: null, text_config_dict: { hidden_size: 768, num_attention_heads: 12 }, vision_config_dict: { patch_size: 14 } }, F);
    expect(c.text).toMatchObject({ hiddenSize: 768, numHeads: 12 });
    expect(c.vision.patchSize).toBe(14);
  });

  it('treats eos_token_id 2 as the legacy argmax pooling', () => {
    expect(parseClipConfig({ text_config: { eos_token_id: 2 } }, F).text.pooling).toBe('argmax');
  });

  it('accepts gelu and names an unknown activation', () => {
    expect(parseClipConfig({ vision_config: { hidden_act: 'gelu' } }, F).vision.hiddenAct).toBe('gelu');
    const err = configError(() => parseClipConfig({ text_config: { hidden_act: 'gelu_pytorch_tanh' } }, F));
    expect(err.message).toMatch(/text_config.hidden_act: unsupported activation "gelu_pytorch_tanh"/);
    expect(err.path).toBe(F);
  });

  it.each([
    [{ projection_dim: 0 }, /projection_dim must be an integer from 1 to 16384, got 0/],
    [{ vision_config: { hidden_size: '768' } }, /vision_config.hidden_size must be an integer/],
    [{ vision_config: { hidden_size: 100, num_attention_heads: 12 } }, /vision hidden size 100 is not divisible by 12 heads/],
    [{ vision_config: { image_size: 224, patch_size: 30 } }, /image_size 224 is not a multiple of patch_size 30/],
    [{ text_config: { layer_norm_eps: -1 } }, /text_config.layer_norm_eps must be a positive number/],
    [{ text_config: 5 }, /text_config must be an object/],
  ])('rejects %j', (raw, message) => {
    expect(configError(() => parseClipConfig(raw, F)).message).toMatch(message);
  });
});

describe('preprocessor_config.json', () => {
  it('takes sizes as objects or integers', () => {
    const a = parseClipConfig(tinyHf, F, { size: { shortest_edge: 36 }, crop_size: { height: 32, width: 32 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.25, 0.25], resample: 2 }, P);
    expect(a.preprocess).toEqual({ resizeShortest: 36, cropSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resample: 2 });
    const b = parseClipConfig(tinyHf, F, { size: 32, crop_size: 32 }, P);
    expect(b.preprocess).toMatchObject({ resizeShortest: 32, cropSize: 32 });
  });

  it.each([
    [{ crop_size: { height: 32, width: 30 } }, /crop_size must be an integer from 1 to 8192 or \{height, width\}/],
    [{ size: 64, crop_size: 64 }, /crop_size 64 differs from the vision image_size 32/],
    [{ image_std: [0.2, 0, 0.2] }, /image_std must be an array of 3 positive numbers/],
    [{ image_mean: [0.5, 0.5] }, /image_mean must be an array of 3 numbers/],
  ])('rejects %j naming the preprocessor file', (pre, message) => {
    const err = configError(() => parseClipConfig(tinyHf, F, pre, P));
    expect(err.message).toMatch(message);
    expect(err.path).toBe(P);
  });
});

describe('open_clip / Immich config', () => {
  it('maps embed_dim, vision_cfg and text_cfg', () => {
    const c = parseClipConfig(
      { embed_dim: 512, quick_gelu: true, vision_cfg: { image_size: 224, layers: 12, width: 768, patch_size: 32 }, text_cfg: { context_length: 77, vocab_size: 49408, width: 512, heads: 8, layers: 12 } },
      F,
    );
    expect(c.layout).toBe('open_clip');
    expect(c.projectionDim).toBe(512);
    expect(c.vision).toMatchObject({ hiddenSize: 768, intermediateSize: 3072, numHeads: 12, hiddenAct: 'quick_gelu' });
    expect(c.text).toMatchObject({ hiddenSize: 512, numHeads: 8, intermediateSize: 2048, contextLength: 77 });
    expect(parseClipConfig({ embed_dim: 512 }, F).vision.hiddenAct).toBe('gelu');
  });
});

describe('configHash', () => {
  it('ignores key order and the model name, follows every output-changing field', () => {
    const base = parseClipConfig(tinyHf, F).configHash;
    const reordered = JSON.parse(canonicalJson(tinyHf)) as typeof tinyHf;
    expect(parseClipConfig({ ...reordered, _name_or_path: 'other/name' }, F).configHash).toBe(base);
    const changed = [
      { ...tinyHf, projection_dim: 16 },
      { ...tinyHf, vision_config: { ...tinyHf.vision_config, hidden_act: 'gelu' } },
      { ...tinyHf, text_config: { ...tinyHf.text_config, layer_norm_eps: 1e-6 } },
    ].map((raw) => parseClipConfig(raw, F).configHash);
    expect(new Set([base, ...changed]).size).toBe(4);
    expect(parseClipConfig(tinyHf, F, { image_mean: [0.5, 0.5, 0.5] }, P).configHash).not.toBe(base);
  });

  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: [{ y: 1, x: 2 }], a: 'z' })).toBe('{"a":"z","b":[{"x":2,"y":1}]}');
  });
});
