/**
 * Reading and writing ONNX model files: protobuf <-> IR, external-data files included.
 * Weights are never held twice: inline payloads stay views into the file buffer, external
 * payloads stay byte ranges on disk and are streamed when a model is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { readFileOrThrow } from '../io/files.js';
import { DTYPE_SIZE, type DType, dtypeCode, dtypeFromCode } from './dtypes.js';
import { type Attr, type Dim, type Graph, type Model, type Node, type TensorValue, type ValueInfo, numel, readExternalBytes, tensorByteLength } from './ir.js';
import { ModelProtoType, int64ToNumber } from './proto.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf messages are untyped */

/** Loads an ONNX model file; external-data references are resolved against its folder and checked. */
export function loadModel(file: string): Model {
  const buf = readFileOrThrow(file);
  return decodeModel(buf, file, path.dirname(path.resolve(file)));
}

/** Decodes a serialized model; `baseDir` resolves external-data locations. */
export function decodeModel(buf: Uint8Array, source: string, baseDir: string): Model {
  let msg: any;
  try {
    msg = ModelProtoType.decode(buf);
  } catch (e) {
    throw new AppError('ONNX_INVALID', `${source} is not a valid ONNX model: the protobuf data is truncated or corrupt (${(e as Error).message})`);
  }
  if (!msg.graph || !msg.opsetImport || msg.opsetImport.length === 0 || int64ToNumber(msg.irVersion) <= 0) {
    throw new AppError('ONNX_INVALID', `${source} is not an ONNX model (no graph, IR version or opset import)`);
  }
  const ctx: DecodeCtx = { source, baseDir, externalSizes: new Map() };
  const graph = decodeGraph(msg.graph, ctx);
  return {
    irVersion: int64ToNumber(msg.irVersion),
    opsets: (msg.opsetImport as any[]).map((o) => ({ domain: o.domain ?? '', version: int64ToNumber(o.version) })),
    producerName: msg.producerName ?? '',
    producerVersion: msg.producerVersion ?? '',
    docString: msg.docString ?? '',
    metadata: entries(msg.metadataProps),
    graph,
    functions: msg.functions ?? [],
    source,
  };
}

interface DecodeCtx {
  source: string;
  baseDir: string;
  externalSizes: Map<string, number>;
}

function entries(list: any[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of list ?? []) out[e.key ?? ''] = e.value ?? '';
  return out;
}

function decodeGraph(g: any, ctx: DecodeCtx): Graph {
  const initializers = new Map<string, TensorValue>();
  for (const t of g.initializer ?? []) {
    const tv = decodeTensor(t, ctx);
    initializers.set(tv.name, tv);
  }
  const valueInfo = new Map<string, ValueInfo>();
  for (const v of g.valueInfo ?? []) {
    const vi = decodeValueInfo(v);
    if (vi) valueInfo.set(vi.name, vi);
  }
  const nodes: Node[] = (g.node ?? []).map((n: any, i: number) => decodeNode(n, i, ctx));
  const io = (list: any[]) =>
    (list ?? []).map((v) => {
      const vi = decodeValueInfo(v);
      if (!vi) throw new AppError('ONNX_UNSUPPORTED', `${ctx.source}: graph input/output '${v.name}' is not a tensor`);
      return vi;
    });
  return {
    name: g.name ?? 'graph',
    nodes,
    inputs: io(g.input).filter((v: ValueInfo) => !initializers.has(v.name)),
    outputs: io(g.output),
    initializers,
    valueInfo,
  };
}

/** A subgraph keeps every declared input (its initializers are its own constants). */
function decodeSubgraph(g: any, ctx: DecodeCtx): Graph {
  const graph = decodeGraph(g, ctx);
  graph.inputs = (g.input ?? []).map((v: any) => {
    const vi = decodeValueInfo(v);
    if (!vi) throw new AppError('ONNX_UNSUPPORTED', `${ctx.source}: subgraph input '${v.name}' is not a tensor`);
    return vi;
  });
  return graph;
}

function decodeValueInfo(v: any): ValueInfo | null {
  const tt = v.type?.tensorType;
  if (!tt) return null;
  const dtype = dtypeFromCode(tt.elemType ?? 0);
  if (!dtype) return null;
  let shape: Dim[] | null = null;
  if (tt.shape) {
    shape = (tt.shape.dim ?? []).map((d: any) => {
      if (d.dimValue !== undefined && d.dimValue !== null && d.value === 'dimValue') return int64ToNumber(d.dimValue);
      if (d.dimParam) return d.dimParam as string;
      return null;
    });
  }
  return { name: v.name ?? '', dtype, shape };
}

function decodeNode(n: any, index: number, ctx: DecodeCtx): Node {
  const attrs: Record<string, Attr> = {};
  for (const a of n.attribute ?? []) attrs[a.name] = decodeAttr(a, ctx);
  return {
    name: n.name || `${n.opType}_${index}`,
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attrs,
    metadata: entries(n.metadataProps),
  };
}

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const utf8 = new TextDecoder();

function decodeAttr(a: any, ctx: DecodeCtx): Attr {
  switch (a.type) {
    case ATTR.FLOAT:
      return { type: 'float', value: a.f ?? 0 };
    case ATTR.INT:
      return { type: 'int', value: int64ToNumber(a.i) };
    case ATTR.STRING:
      return { type: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case ATTR.TENSOR:
      return { type: 'tensor', value: decodeTensor(a.t, ctx) };
    case ATTR.FLOATS:
      return { type: 'floats', value: [...(a.floats ?? [])] };
    case ATTR.INTS:
      return { type: 'ints', value: (a.ints ?? []).map(int64ToNumber) };
    case ATTR.STRINGS:
      return { type: 'strings', value: (a.strings ?? []).map((s: Uint8Array) => utf8.decode(s)) };
    case ATTR.GRAPH:
      return { type: 'graph', value: decodeSubgraph(a.g, ctx) };
    default:
      return { type: 'raw', value: a };
  }
}

function decodeTensor(t: any, ctx: DecodeCtx): TensorValue {
  const name: string = t.name ?? '';
  const dtype = dtypeFromCode(t.dataType ?? 0);
  if (!dtype) throw new AppError('ONNX_UNSUPPORTED', `${ctx.source}: tensor '${name}' has unsupported data type ${t.dataType}`);
  const dims: number[] = (t.dims ?? []).map(int64ToNumber);
  const count = numel(dims);
  const size = DTYPE_SIZE[dtype];
  if (t.dataLocation === 1) {
    const ext = entries(t.externalData);
    const location = ext.location;
    if (!location) throw new AppError('ONNX_INVALID', `${ctx.source}: tensor '${name}' is external but names no location`);
    const file = path.resolve(ctx.baseDir, location);
    const offset = ext.offset ? Number(ext.offset) : 0;
    const length = ext.length ? Number(ext.length) : count * size;
    let fileSize = ctx.externalSizes.get(file);
    if (fileSize === undefined) {
      try {
        fileSize = fs.statSync(file).size;
      } catch {
        throw new AppError('ONNX_EXTERNAL_DATA', `${ctx.source}: external data file '${location}' (tensor '${name}') is missing; expected it at ${file}`);
      }
      ctx.externalSizes.set(file, fileSize);
    }
    if (offset + length > fileSize) {
      throw new AppError('ONNX_EXTERNAL_DATA', `${ctx.source}: external data file '${location}' is ${fileSize} bytes but tensor '${name}' needs bytes ${offset}..${offset + length}`);
    }
    if (length !== count * size) {
      throw new AppError('ONNX_INVALID', `${ctx.source}: tensor '${name}' declares ${length} bytes of external data, its shape needs ${count * size}`);
    }
    return { name, dtype, dims, data: { kind: 'external', file, offset, length } };
  }
  if (dtype === 'string') return { name, dtype, dims, data: { kind: 'strings', values: t.stringData ?? [] } };
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * size) {
      throw new AppError('ONNX_INVALID', `${ctx.source}: tensor '${name}' has ${t.rawData.length} bytes, its shape needs ${count * size}`);
    }
    return { name, dtype, dims, data: { kind: 'bytes', bytes: t.rawData as Uint8Array } };
  }
  return { name, dtype, dims, data: { kind: 'bytes', bytes: typedFieldsToBytes(t, dtype, count, name, ctx) } };
}

function typedFieldsToBytes(t: any, dtype: DType, count: number, name: string, ctx: DecodeCtx): Uint8Array {
  const out = new Uint8Array(count * DTYPE_SIZE[dtype]);
  const dv = new DataView(out.buffer);
  const src: any[] | undefined =
    dtype === 'float32' ? t.floatData : dtype === 'float64' ? t.doubleData : dtype === 'int64' ? t.int64Data : dtype === 'uint64' || dtype === 'uint32' ? t.uint64Data : t.int32Data;
  const values = src ?? [];
  if (values.length !== count) {
    throw new AppError('ONNX_INVALID', `${ctx.source}: tensor '${name}' has ${values.length} values, its shape needs ${count}`);
  }
  for (let i = 0; i < count; i++) {
    const v = values[i];
    switch (dtype) {
      case 'float32':
        dv.setFloat32(i * 4, v, true);
        break;
      case 'float64':
        dv.setFloat64(i * 8, v, true);
        break;
      case 'int64':
        dv.setBigInt64(i * 8, BigInt(int64ToNumber(v)), true);
        break;
      case 'uint64':
        dv.setBigUint64(i * 8, BigInt(int64ToNumber(v)), true);
        break;
      case 'uint32':
        dv.setUint32(i * 4, int64ToNumber(v), true);
        break;
      case 'int32':
        dv.setInt32(i * 4, v, true);
        break;
      case 'int16':
        dv.setInt16(i * 2, v, true);
        break;
      case 'uint16':
      case 'float16':
      case 'bfloat16':
        dv.setUint16(i * 2, v, true);
        break;
      case 'int8':
        dv.setInt8(i, v);
        break;
      case 'uint8':
      case 'bool':
        dv.setUint8(i, v);
        break;
      default:
        throw new AppError('ONNX_UNSUPPORTED', `${ctx.source}: tensor '${name}' of ${dtype} cannot be decoded`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

export interface SaveOptions {
  /** Where tensors go: 'auto' keeps them inline unless the model would pass the protobuf limit or some are external. */
  externalData?: 'auto' | 'always' | 'never';
  /** Tensors smaller than this stay inline even when writing external data (bytes). */
  sizeThreshold?: number;
  /**
   * Hard-link source external-data files next to the output and reference them in place instead
   * of copying their bytes (falls back to copying across file systems). Default true.
   */
  linkExternal?: boolean;
}

/** Protobuf messages cannot exceed 2 GiB; stay well below. */
const INLINE_LIMIT = 1.8 * 1024 ** 3;

/** Serializes a model whose tensors all live in memory. */
export function encodeModel(model: Model): Uint8Array {
  for (const t of allTensors(model)) {
    if (t.data.kind === 'external') {
      throw new AppError('ONNX_EXTERNAL_DATA', `tensor '${t.name}' lives in external data; save the model to a file instead`);
    }
  }
  const total = totalTensorBytes(model);
  if (total > INLINE_LIMIT) {
    throw new AppError('ONNX_INVALID', `model has ${(total / 1024 ** 3).toFixed(2)} GiB of weights, above protobuf's 2 GiB limit; save it with external data`);
  }
  return ModelProtoType.encode(toProto(model, () => null) as any).finish();
}

/**
 * Writes `model` to `file`. Tensors that go external are streamed into `<file>.data` beside it
 * (from memory or copied range by range from their source file), 4 KiB-aligned when large so
 * ONNX Runtime can map them.
 */
export function saveModel(model: Model, file: string, options: SaveOptions = {}): void {
  const mode = options.externalData ?? 'auto';
  const threshold = options.sizeThreshold ?? 1024;
  const hasExternal = allTensors(model).some((t) => t.data.kind === 'external');
  const useExternal = mode === 'always' || (mode === 'auto' && (hasExternal || totalTensorBytes(model) > INLINE_LIMIT));
  if (mode === 'never' && totalTensorBytes(model) > INLINE_LIMIT) {
    throw new AppError('ONNX_INVALID', `model is above protobuf's 2 GiB limit; it must be saved with external data`);
  }
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const dataName = `${path.basename(file)}.data`;
  const dataPath = path.join(path.dirname(path.resolve(file)), dataName);
  const tmpData = `${dataPath}.tmp-${process.pid}`;
  const tmpModel = `${file}.tmp-${process.pid}`;
  let fd: number | null = null;
  const links = new Map<string, string | null>();
  const linkFor = (source: string): string | null => {
    if (options.linkExternal === false) return null;
    if (links.has(source)) return links.get(source)!;
    const outDir = path.dirname(dataPath);
    if (path.dirname(path.resolve(source)) === outDir) {
      links.set(source, path.basename(source));
      return path.basename(source);
    }
    const name = `${path.basename(file)}.w${links.size}.data`;
    const target = path.join(outDir, name);
    try {
      fs.rmSync(target, { force: true });
      fs.linkSync(source, target);
      links.set(source, name);
      return name;
    } catch {
      links.set(source, null);
      return null;
    }
  };
  try {
    let offset = 0;
    const place = (t: TensorValue): { location?: string; offset: number; length: number } | null => {
      if (!useExternal || t.data.kind === 'strings') return null;
      const length = tensorByteLength(t);
      if (length < threshold) return null;
      if (t.data.kind === 'external' && path.resolve(t.data.file) === dataPath) {
        throw new AppError('INVALID_ARGUMENT', `cannot overwrite ${dataPath}: the model reads its weights from it`);
      }
      if (t.data.kind === 'external') {
        const linked = linkFor(t.data.file);
        if (linked) return { location: linked, offset: t.data.offset, length };
      }
      if (fd === null) fd = fs.openSync(tmpData, 'w');
      if (length >= 65536) offset = Math.ceil(offset / 4096) * 4096;
      const at = offset;
      writeTensorBytes(fd, t, at);
      offset += length;
      return { offset: at, length };
    };
    const proto = toProto(model, (t) => {
      const p = place(t);
      return p ? { location: p.location ?? dataName, offset: p.offset, length: p.length } : null;
    });
    const bytes = ModelProtoType.encode(proto as any).finish();
    fs.writeFileSync(tmpModel, bytes);
    if (fd !== null) {
      fs.closeSync(fd);
      fd = null;
      fs.renameSync(tmpData, dataPath);
    }
    fs.renameSync(tmpModel, file);
  } finally {
    if (fd !== null) fs.closeSync(fd);
    for (const f of [tmpData, tmpModel]) if (fs.existsSync(f)) fs.rmSync(f);
  }
}

function writeTensorBytes(fd: number, t: TensorValue, at: number): void {
  if (t.data.kind === 'bytes') {
    writeAll(fd, t.data.bytes, at);
    return;
  }
  if (t.data.kind === 'external') {
    const chunk = 64 * 1024 * 1024;
    for (let done = 0; done < t.data.length; done += chunk) {
      const n = Math.min(chunk, t.data.length - done);
      writeAll(fd, readExternalBytes(t.name, t.data.file, t.data.offset + done, n), at + done);
    }
  }
}

function writeAll(fd: number, bytes: Uint8Array, at: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, at + done);
}

function allTensors(model: Model): TensorValue[] {
  const out = [...model.graph.initializers.values()];
  for (const n of model.graph.nodes) for (const a of Object.values(n.attrs)) if (a.type === 'tensor') out.push(a.value);
  return out;
}

function totalTensorBytes(model: Model): number {
  let s = 0;
  for (const t of allTensors(model)) if (t.data.kind !== 'strings') s += tensorByteLength(t);
  return s;
}

type Placement = { location: string; offset: number; length: number } | null;

function toProto(model: Model, place: (t: TensorValue) => Placement): any {
  const g = model.graph;
  return {
    irVersion: model.irVersion,
    opsetImport: model.opsets.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    docString: model.docString,
    metadataProps: toEntries(model.metadata),
    functions: model.functions,
    graph: graphToProto(g, place),
  };
}

function graphToProto(g: Graph, place: (t: TensorValue) => Placement): any {
  return {
    name: g.name,
    node: g.nodes.map((n) => nodeToProto(n)),
    initializer: [...g.initializers.values()].map((t) => tensorToProto(t, place(t))),
    input: g.inputs.map(valueInfoToProto),
    output: g.outputs.map(valueInfoToProto),
    valueInfo: [...g.valueInfo.values()].map(valueInfoToProto),
  };
}

function toEntries(rec: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(rec).map(([key, value]) => ({ key, value }));
}

function valueInfoToProto(v: ValueInfo): any {
  const tensorType: any = { elemType: dtypeCode(v.dtype) };
  if (v.shape) {
    tensorType.shape = {
      dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return { name: v.name, type: { tensorType } };
}

const utf8e = new TextEncoder();

function nodeToProto(n: Node): any {
  const attribute = Object.entries(n.attrs).map(([name, a]) => attrToProto(name, a));
  const out: any = { input: n.inputs, output: n.outputs, name: n.name, opType: n.opType, attribute };
  if (n.domain) out.domain = n.domain;
  const meta = toEntries(n.metadata);
  if (meta.length) out.metadataProps = meta;
  return out;
}

function attrToProto(name: string, a: Attr): any {
  switch (a.type) {
    case 'float':
      return { name, type: ATTR.FLOAT, f: a.value };
    case 'int':
      return { name, type: ATTR.INT, i: a.value };
    case 'string':
      return { name, type: ATTR.STRING, s: utf8e.encode(a.value) };
    case 'tensor':
      return { name, type: ATTR.TENSOR, t: tensorToProto(a.value, null) };
    case 'floats':
      return { name, type: ATTR.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: ATTR.INTS, ints: a.value };
    case 'strings':
      return { name, type: ATTR.STRINGS, strings: a.value.map((s) => utf8e.encode(s)) };
    case 'graph':
      // subgraph constants are small and stay inline
      return { name, type: ATTR.GRAPH, g: graphToProto(a.value, () => null) };
    case 'raw':
      return a.value;
  }
}

function tensorToProto(t: TensorValue, placement: Placement): any {
  const out: any = { name: t.name, dataType: dtypeCode(t.dtype), dims: t.dims };
  if (t.data.kind === 'strings') {
    out.stringData = t.data.values;
    return out;
  }
  if (placement) {
    out.dataLocation = 1;
    out.externalData = [
      { key: 'location', value: placement.location },
      { key: 'offset', value: String(placement.offset) },
      { key: 'length', value: String(placement.length) },
    ];
    return out;
  }
  if (t.data.kind === 'external') {
    out.rawData = readExternalBytes(t.name, t.data.file, t.data.offset, t.data.length);
  } else {
    out.rawData = t.data.bytes;
  }
  return out;
}
