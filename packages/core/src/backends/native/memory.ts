// Where the native backend's weights and activations live. On the CPU, weights are addon tensors
// and activations Float32Arrays over addon memory (hostArray: huge pages when large, which the
// GEMM needs on these VMs) that the kernels read in place, so pooling and embedding gathers
// touch them without copies. On CUDA both are device tensors and host data crosses via
// write()/toArray().
import type { Device, F32, NativeKernels, Tensor } from '@clipkit/native-cuda';

export interface DeviceMemory {
  readonly device: Device;
  /** Activations of any size may be used through prefix views (CPU only). */
  readonly prefixViews: boolean;
  /** A weight, copied once into native memory owned by this object (bf16: rounded, GEMM weights only). */
  upload(data: Float32Array, shape: readonly number[], dtype?: WeightDtype): F32;
  /** A zero-filled activation buffer, reused across calls. */
  alloc(shape: readonly number[]): F32;
  /** The first `size` elements of `buf` (CPU), or `buf` itself when `size` is its full size. */
  prefix(buf: F32, size: number): F32;
  write(buf: F32, data: Float32Array): void;
  /** Host values of `buf`: the buffer itself on the CPU, a fresh copy from the device. */
  read(buf: F32): Float32Array;
  /**
   * A host array that write(buf, it) uploads: on the CPU the buffer itself (so the write is
   * free), otherwise a new staging array of the same size.
   */
  hostMirror(buf: F32): Float32Array;
  /** Frees a buffer from alloc() now (device memory) instead of at dispose(). */
  free(buf: F32): void;
  dispose(): void;
}

/** A bf16 tensor is accepted only as the weight of a linear call. */
export type WeightDtype = 'f32' | 'bf16';

export function createDeviceMemory(kernels: NativeKernels, device: Device): DeviceMemory {
  return device === 'cpu' ? new CpuMemory(kernels) : new CudaMemory(kernels);
}

const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Tensors this memory created on `device`, freed by dispose() unless released earlier. */
abstract class OwnedTensors {
  abstract readonly device: Device;
  private readonly owned = new Set<Tensor>();
  constructor(protected readonly kernels: NativeKernels) {}
  upload(data: Float32Array, shape: readonly number[], dtype: WeightDtype = 'f32'): F32 {
    return this.own(this.kernels.tensor(data, shape, { dtype, device: this.device }));
  }
  protected own(t: Tensor): Tensor {
    this.owned.add(t);
    return t;
  }
  protected release(t: Tensor): void {
    if (this.owned.delete(t)) t.dispose();
  }
  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.clear();
  }
}

class CpuMemory extends OwnedTensors implements DeviceMemory {
  readonly device = 'cpu' as const;
  readonly prefixViews = true;

  alloc(shape: readonly number[]): F32 {
    return this.kernels.hostArray(elements(shape));
  }
  prefix(buf: F32, size: number): F32 {
    return asHost(buf).subarray(0, size);
  }
  write(buf: F32, data: Float32Array): void {
    const host = asHost(buf);
    if (data !== host) host.set(data);
  }
  hostMirror(buf: F32): Float32Array {
    return asHost(buf);
  }
  read(buf: F32): Float32Array {
    return asHost(buf);
  }
  free(): void {
    // Host activations are garbage-collected arrays (their addon memory goes with them).
  }
}

class CudaMemory extends OwnedTensors implements DeviceMemory {
  readonly device = 'cuda' as const;
  readonly prefixViews = false;

  alloc(shape: readonly number[]): F32 {
    return this.upload(new Float32Array(elements(shape)), shape);
  }
  prefix(buf: F32, size: number): F32 {
    if (sizeOf(buf) !== size) throw new RangeError(`device buffers have no views (wanted ${size} of ${sizeOf(buf)} elements)`);
    return buf;
  }
  write(buf: F32, data: Float32Array): void {
    (buf as Tensor).write(data);
  }
  read(buf: F32): Float32Array {
    return (buf as Tensor).toArray();
  }
  hostMirror(buf: F32): Float32Array {
    return new Float32Array(sizeOf(buf));
  }
  free(buf: F32): void {
    this.release(buf as Tensor);
  }
}

function sizeOf(buf: F32): number {
  return buf instanceof Float32Array ? buf.length : buf.size;
}

function asHost(buf: F32): Float32Array {
  if (!(buf instanceof Float32Array)) throw new TypeError('expected a host activation buffer');
  return buf;
}
