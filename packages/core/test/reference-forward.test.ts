// The float64 reference forward pass is itself checked against the PyTorch outputs of the shared
// tiny model; every native/onnx test that compares against it inherits this proof.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClipConfig } from '../src/model/config.js';
import { SafetensorsFile } from '../src/model/safetensors.js';
import { erf, pooledTokenIndex, referenceEncodeImages, referenceEncodeTexts } from '../src/testing/reference-forward.js';
import { expectClose } from './helpers/compare.js';
import { loadTinyExpected, repadIds, skipWithoutTiny, tinyModelDir } from './helpers/tiny-reference.js';

const BOUNDS = { rel: 1e-5, maxAbs: 1e-4 };

describe.skipIf(skipWithoutTiny('reference-forward vs PyTorch'))('reference forward vs PyTorch (shared tiny model)', () => {
  const config = () => loadClipConfig(path.join(tinyModelDir, 'config.json'));
  const weights = () => {
    const file = SafetensorsFile.open(path.join(tinyModelDir, 'model.safetensors'));
    return (name: string, shape: readonly number[]) => file.getTensor(name, shape);
  };

  it('reproduces image_pooled and image_embeds', () => {
    const exp = loadTinyExpected();
    const out = referenceEncodeImages(config(), weights(), exp.pixelValues, exp.nImages);
    expectClose(out.pooled, exp.imagePooled, BOUNDS, 'image_pooled');
    expectClose(out.embeds, exp.imageEmbeds, BOUNDS, 'image_embeds');
  });

  it('reproduces text_pooled and text_embeds, with 0 or EOT padding', () => {
    const exp = loadTinyExpected();
    const cfg = config();
    const w = weights();
    const out = referenceEncodeTexts(cfg, w, exp.inputIds, exp.nTexts);
    expectClose(out.pooled, exp.textPooled, BOUNDS, 'text_pooled');
    expectClose(out.embeds, exp.textEmbeds, BOUNDS, 'text_embeds');
    const eotPadded = repadIds(exp.inputIds, exp.nTexts, exp.contextLength, cfg.text.eosTokenId, cfg.text.eosTokenId);
    expect(eotPadded).not.toEqual(exp.inputIds);
    expectClose(referenceEncodeTexts(cfg, w, eotPadded, exp.nTexts).embeds, exp.textEmbeds, BOUNDS, 'text_embeds (EOT-padded)');
  });
});

describe('reference forward building blocks', () => {
  it('erf matches tabulated values to 1e-14', () => {
    const table: Array<[number, number]> = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
      [-1.5, -0.9661051464753108],
    ];
    for (const [x, want] of table) expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThan(1e-14);
  });

  it('pools at the first EOT, or at argmax for legacy configs', () => {
    const row = Int32Array.from([10, 5, 99, 7, 99, 99]);
    expect(pooledTokenIndex(row, { pooling: 'first-eos', eosTokenId: 99 })).toBe(2);
    expect(pooledTokenIndex(row, { pooling: 'first-eos', eosTokenId: 7 })).toBe(3);
    expect(pooledTokenIndex(Int32Array.from([3, 8, 1, 8]), { pooling: 'argmax', eosTokenId: 2 })).toBe(1);
  });
});
