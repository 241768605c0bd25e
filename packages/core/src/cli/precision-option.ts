// --precision, shared by every command that loads a model. commander rejects other values as a
// usage error (exit 2) that lists the choices; bf16 with --backend onnx is refused when the
// backend is created (backends/precision.ts).
import { Option } from 'commander';
import { PRECISION_CHOICES } from '../backends/precision.js';
import type { PrecisionOption } from '../types.js';

export function precisionOption(defaultValue: PrecisionOption): Option {
  return new Option('--precision <mode>', 'arithmetic of the native encoders: fp32, bf16, or auto (bf16 where there is a bf16 path: AMX or AVX512_BF16 on the CPU, compute capability 8.0+ with --device cuda)')
    .choices(PRECISION_CHOICES)
    .default(defaultValue);
}
