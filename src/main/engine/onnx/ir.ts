/**
 * The graph IR every graph tool works on: plain objects close to ONNX's own structure, with
 * tensor payloads kept where they are (a view into the loaded file, a byte range of an
 * external-data file, or host memory) so weights are never copied until something needs them.
 */
import fs from 'node:fs';
import { AppError } from '../../shared/errors.js';
import { DTYPE_SIZE, type DType, type TypedArray, bytesOf, typedArrayFromBytes } from './dtypes.js';

export type TensorData = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'external'; file: string; offset: number; length: number } | { kind: 'strings'; values: Uint8Array[] };

/** A named constant tensor: an initializer or a Constant node's value. */
export interface TensorValue {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** A tensor in host memory; int64 data is a BigInt64Array as in ONNX Runtime. */
export interface HostTensor {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

export type Attr =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: TensorValue }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  /** A subgraph (Scan, Loop and If bodies): it may read tensors of the enclosing graph by name. */
  | { type: 'graph'; value: Graph }
  /** Other rarely used kinds pass through untouched as decoded protobuf objects. */
  | { type: 'raw'; value: unknown };

export interface Node {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  metadata: Record<string, string>;
}

/** Dimension: a number, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[] | null;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, TensorValue>;
  valueInfo: Map<string, ValueInfo>;
}

export interface OpsetId {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsets: OpsetId[];
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata: Record<string, string>;
  graph: Graph;
  /** Model-local functions, passed through as decoded protobuf objects. */
  functions: unknown[];
  /** Where the model came from (for messages). */
  source: string;
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** The default-domain opset version the model imports. */
export function defaultOpset(model: Model): number {
  const op = model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return op ? op.version : 0;
}

export function tensorByteLength(t: TensorValue): number {
  return numel(t.dims) * DTYPE_SIZE[t.dtype];
}

/** Reads a tensor value into host memory (external data is read from disk on demand). */
export function readTensor(t: TensorValue): HostTensor {
  const count = numel(t.dims);
  if (t.data.kind === 'strings') throw new AppError('ONNX_UNSUPPORTED', `tensor '${t.name}' holds strings`);
  let bytes: Uint8Array;
  if (t.data.kind === 'bytes') {
    bytes = t.data.bytes;
  } else {
    bytes = readExternalBytes(t.name, t.data.file, t.data.offset, t.data.length);
  }
  const expected = count * DTYPE_SIZE[t.dtype];
  if (bytes.byteLength !== expected) {
    throw new AppError('ONNX_INVALID', `tensor '${t.name}' has ${bytes.byteLength} bytes of data but its shape [${t.dims.join(', ')}] of ${t.dtype} needs ${expected}`);
  }
  return { dtype: t.dtype, dims: [...t.dims], data: typedArrayFromBytes(t.dtype, bytes, count) };
}

export function readExternalBytes(name: string, file: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new AppError('ONNX_EXTERNAL_DATA', `external data file ${file} of tensor '${name}' cannot be opened`);
  }
  try {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, out, done, length - done, offset + done);
      if (n === 0) {
        throw new AppError('ONNX_EXTERNAL_DATA', `external data file ${file} ends before the ${length} bytes of tensor '${name}' at offset ${offset}`);
      }
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

export function tensorValueFromHost(name: string, t: HostTensor): TensorValue {
  return { name, dtype: t.dtype, dims: [...t.dims], data: { kind: 'bytes', bytes: bytesOf(t.data) } };
}

/** Shallow structural clone: node and value objects are copied, tensor payloads are shared. */
export function cloneGraph(g: Graph): Graph {
  return {
    name: g.name,
    nodes: g.nodes.map((n) => ({
      ...n,
      inputs: [...n.inputs],
      outputs: [...n.outputs],
      attrs: { ...n.attrs },
      metadata: { ...n.metadata },
    })),
    inputs: g.inputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : null })),
    outputs: g.outputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : null })),
    initializers: new Map(g.initializers),
    valueInfo: new Map(g.valueInfo),
  };
}

export function cloneModel(m: Model): Model {
  return { ...m, opsets: m.opsets.map((o) => ({ ...o })), metadata: { ...m.metadata }, graph: cloneGraph(m.graph) };
}

/** Attribute accessors with defaults; a wrong kind is a model error naming the node. */
export function attrInt(node: Node, name: string, def?: number): number {
  const a = node.attrs[name];
  if (!a) {
    if (def === undefined) throw new AppError('ONNX_INVALID', `node '${node.name}' (${node.opType}) lacks attribute '${name}'`);
    return def;
  }
  if (a.type !== 'int') throw new AppError('ONNX_INVALID', `attribute '${name}' of node '${node.name}' is not an int`);
  return a.value;
}

export function attrFloat(node: Node, name: string, def?: number): number {
  const a = node.attrs[name];
  if (!a) {
    if (def === undefined) throw new AppError('ONNX_INVALID', `node '${node.name}' (${node.opType}) lacks attribute '${name}'`);
    return def;
  }
  if (a.type === 'float' || a.type === 'int') return a.value;
  throw new AppError('ONNX_INVALID', `attribute '${name}' of node '${node.name}' is not a float`);
}

export function attrInts(node: Node, name: string, def?: number[]): number[] {
  const a = node.attrs[name];
  if (!a) {
    if (def === undefined) throw new AppError('ONNX_INVALID', `node '${node.name}' (${node.opType}) lacks attribute '${name}'`);
    return def;
  }
  if (a.type !== 'ints') throw new AppError('ONNX_INVALID', `attribute '${name}' of node '${node.name}' is not an int list`);
  return a.value;
}

export function attrString(node: Node, name: string, def?: string): string {
  const a = node.attrs[name];
  if (!a) {
    if (def === undefined) throw new AppError('ONNX_INVALID', `node '${node.name}' (${node.opType}) lacks attribute '${name}'`);
    return def;
  }
  if (a.type !== 'string') throw new AppError('ONNX_INVALID', `attribute '${name}' of node '${node.name}' is not a string`);
  return a.value;
}
