/**
 * safetensors files: an 8-byte little-endian header length, a JSON header (per tensor: dtype,
 * shape, data_offsets; optional string map `__metadata__`), then the raw little-endian buffers.
 * Writes are atomic (temp file + rename).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { readFileOrThrow } from './files.js';
import { writeFileAtomic } from '../cache/temp-files.js';
import { type DType, DTYPE_SIZE, bytesOf, typedArrayFromBytes } from '../onnx/dtypes.js';
import { type HostTensor, numel } from '../onnx/ir.js';

const TO_ST: Partial<Record<DType, string>> = { float32: 'F32', float64: 'F64', float16: 'F16', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

export interface SafeTensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: Record<string, HostTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    const st = TO_ST[t.dtype];
    if (!st) throw new AppError('INVALID_ARGUMENT', `tensor '${name}': ${t.dtype} cannot be stored in safetensors`);
    const n = t.data.byteLength;
    header[name] = { dtype: st, shape: t.dims, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const b = bytesOf(tensors[name].data);
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

export function writeSafetensors(file: string, tensors: Record<string, HostTensor>, metadata: Record<string, string> = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  // checkpoints and prompt files: whole or not at all, never a stray temporary file on a full disk
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export function parseSafetensors(buf: Uint8Array, file = '<safetensors>'): SafeTensors {
  const bad = (msg: string) => new AppError('INVALID_ARGUMENT', `${file}: ${msg}`);
  if (buf.length < 8) throw bad('not a safetensors file (too short)');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.length) throw bad('not a safetensors file (bad header length)');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch {
    throw bad('not a safetensors file (header is not JSON)');
  }
  const base = 8 + n;
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = FROM_ST[e.dtype];
    if (!dtype) throw bad(`tensor '${name}' has unsupported dtype ${e.dtype}`);
    const [a, b] = e.data_offsets;
    const count = numel(e.shape);
    if (b - a !== count * DTYPE_SIZE[dtype] || base + b > buf.length) throw bad(`tensor '${name}' has inconsistent offsets`);
    tensors[name] = { dtype, dims: [...e.shape], data: typedArrayFromBytes(dtype, new Uint8Array(buf.subarray(base + a, base + b)), count) };
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): SafeTensors {
  return parseSafetensors(readFileOrThrow(file), file);
}
