// A minimal ONNX graph builder over onnx-proto: named initializers, nodes, typed graph inputs
// and outputs, encoded to a ModelProto. Enough to write CLIP encoders (and deliberately wrong
// graphs for tests) without Python.
import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'int64' | 'int32';
const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
};

export type AttrValue = number | number[] | { float: number } | { floats: number[] };

/** LayerNormalization needs opset 17. */
const OPSET = 17;

export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, type: ElemType, shape: Array<number | string>): string {
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  output(name: string, type: ElemType, shape: Array<number | string>): void {
    this.outputs.push(valueInfo(name, type, shape));
  }

  /** A float32 constant; the bytes are copied into the model as raw_data. */
  floats(name: string, dims: number[], data: Float32Array): string {
    if (dims.reduce((a, b) => a * b, 1) !== data.length) throw new RangeError(`initializer ${name}: ${data.length} values for [${dims}]`);
    this.initializers.push({
      name,
      dims,
      dataType: ELEM.float32,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  int64s(name: string, values: number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({ name, dims: [values.length], dataType: ELEM.int64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  int32s(name: string, values: number[]): string {
    const data = Int32Array.from(values);
    this.initializers.push({ name, dims: [values.length], dataType: ELEM.int32, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Adds a node; returns its (single) output name. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return out;
  }

  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'clipkit-testing',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  write(file: string): void {
    writeFileSync(file, this.encode());
  }
}

function valueInfo(name: string, type: ElemType, shape: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
