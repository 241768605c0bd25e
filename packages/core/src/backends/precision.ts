// Which arithmetic a loaded model computes in. Precision is chosen once, at load: the native
// backend then creates its linear weights as bf16 tensors (packed once by the addon) and the
// kernels pick the bf16 path the CPU has. onnx always computes in fp32.
import type { NativeInfo } from '@clipkit/native-cuda';
import { UsageError } from '../errors.js';
import type { DeviceName, Precision, PrecisionOption } from '../types.js';

export const PRECISION_CHOICES: readonly PrecisionOption[] = ['fp32', 'bf16', 'auto'];

/** Rejects anything but fp32, bf16 and auto, naming the option and the choices. */
export function checkPrecision(value: unknown, option = 'precision'): PrecisionOption {
  if (typeof value === 'string' && (PRECISION_CHOICES as readonly string[]).includes(value)) return value as PrecisionOption;
  throw new UsageError(`${option} must be one of ${PRECISION_CHOICES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** onnx: fp32 for fp32 and auto; bf16 is the caller's mistake, pointed at the native backend. */
export function onnxPrecision(requested: PrecisionOption, why = ''): Precision {
  if (requested === 'bf16') {
    throw new UsageError(`precision bf16 runs on the native backend only${why}: onnx computes in fp32; use backend native, or precision auto or fp32`);
  }
  return 'fp32';
}

/**
 * native: auto is bf16 where the hardware has a bf16 path — on the CPU the one nativeInfo()
 * reports after its self-test (AMX or AVX512_BF16), on CUDA a device with bf16 tensor cores
 * (compute capability 8.0 on) — else fp32. An explicit bf16 is honoured everywhere: without a
 * fast path the addon runs the bf16-rounded weights through its fp32 kernels and says so.
 */
export function nativePrecision(requested: PrecisionOption, info: NativeInfo, device: DeviceName): Precision {
  if (requested !== 'auto') return requested;
  if (device === 'cuda') return Number.parseFloat(info.cuda.devices[0]?.computeCapability ?? '0') >= 8 ? 'bf16' : 'fp32';
  return info.cpu.bf16 !== null ? 'bf16' : 'fp32';
}
