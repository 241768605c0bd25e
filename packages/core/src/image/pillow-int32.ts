// Pillow 9.4 opens 16-bit grayscale PNGs as mode 'I' (int32 samples). OpenAI's pipeline resizes
// them in that mode, with double-precision bicubic weights (ImagingResample*_32bpc) and rounding
// to int32 between passes, and only convert('RGB') clamps to 0..255. The addon's kernel works in
// 8 bits, so this one case is resized here; the kernel then only crops and normalises.
import type { RawImage } from '@clipkit/native-cuda';

/** Resizes 16-bit gray so the shorter side is `shortest` (torchvision's rule), clamped to 8 bits. */
export function resizeGray16LikePillow(samples: Uint16Array, width: number, height: number, shortest: number): RawImage {
  const [outW, outH] = resizedSize(width, height, shortest);
  let plane: Int32Array = Int32Array.from(samples);
  let w = width;
  // Pillow skips the horizontal/vertical pass when that side keeps its size.
  if (outW !== width) {
    plane = resamplePass(plane, w, height, outW, true);
    w = outW;
  }
  if (outH !== height) plane = resamplePass(plane, w, height, outH, false);
  const data = new Uint8Array(outW * outH);
  for (let i = 0; i < data.length; i++) {
    const v = plane[i] as number;
    data[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  return { data, width: outW, height: outH, channels: 1 };
}

function resizedSize(width: number, height: number, shortest: number): [number, number] {
  if (width <= height) return [shortest, Math.trunc((shortest * height) / width)];
  return [Math.trunc((shortest * width) / height), shortest];
}

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pillow's precompute_coeffs (BICUBIC, whole-image box): first tap and normalised weights per output. */
function coefficients(inSize: number, outSize: number): Array<{ first: number; weights: number[] }> {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const taps: Array<{ first: number; weights: number[] }> = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const weights: number[] = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const k = bicubic((x + xmin - center + 0.5) * ss);
      weights.push(k);
      ww += k;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[x] = (weights[x] as number) / ww;
    taps.push({ first: xmin, weights });
  }
  return taps;
}

function resamplePass(src: Int32Array, w: number, h: number, outLen: number, horizontal: boolean): Int32Array {
  const taps = coefficients(horizontal ? w : h, outLen);
  const outW = horizontal ? outLen : w;
  const outH = horizontal ? h : outLen;
  const out = new Int32Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const { first, weights } = taps[horizontal ? x : y] as { first: number; weights: number[] };
      let ss = 0;
      for (let j = 0; j < weights.length; j++) {
        const s = horizontal ? src[y * w + first + j] : src[(first + j) * w + x];
        ss += (s as number) * (weights[j] as number);
      }
      // ROUND_UP: half away from zero, then C's int conversion.
      out[y * outW + x] = Math.trunc(ss >= 0 ? ss + 0.5 : ss - 0.5);
    }
  }
  return out;
}
