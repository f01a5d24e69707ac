/**
 * NumPy .npy files (format versions 1-3, C order, little-endian), the tensor interchange format
 * of the reference tools. Reading validates everything and names the file in every error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { readFileOrThrow } from './files.js';
import { type DType, DTYPE_SIZE, bytesOf, typedArrayFromBytes } from '../onnx/dtypes.js';
import { type HostTensor, numel } from '../onnx/ir.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<f2': 'float16',
  '<i8': 'int64',
  '<i4': 'int32',
  '<i2': 'int16',
  '|i1': 'int8',
  '|u1': 'uint8',
  '<u2': 'uint16',
  '<u4': 'uint32',
  '<u8': 'uint64',
  '|b1': 'bool',
};
const DTYPE_TO_DESCR = Object.fromEntries(Object.entries(DESCR_TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

function bad(file: string, msg: string): AppError {
  return new AppError('NPY_INVALID', `${file}: ${msg}`);
}

export function parseNpy(buf: Uint8Array, file = '<npy>'): HostTensor {
  if (buf.length < 10 || !MAGIC.every((b, i) => buf[i] === b)) throw bad(file, 'not a NumPy .npy file (bad magic)');
  const major = buf[6];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw bad(file, 'truncated header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw bad(file, `unsupported .npy format version ${major}`);
  }
  if (start + headerLen > buf.length) throw bad(file, 'truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad(file, `malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw bad(file, 'Fortran-ordered arrays are not supported; save with C order');
  const normalized = descr === '=f4' ? '<f4' : descr === '=f8' ? '<f8' : descr === '=i8' ? '<i8' : descr === '=i4' ? '<i4' : descr;
  const dtype = DESCR_TO_DTYPE[normalized];
  if (!dtype) throw bad(file, `unsupported dtype '${descr}' (supported: ${Object.keys(DESCR_TO_DTYPE).join(', ')})`);
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw bad(file, `malformed shape (${shapeText})`);
      return n;
    });
  const count = numel(dims);
  const dataStart = start + headerLen;
  const need = count * DTYPE_SIZE[dtype];
  if (buf.length - dataStart !== need) {
    throw bad(file, `holds ${buf.length - dataStart} bytes of data but shape (${dims.join(', ')}) of ${dtype} needs ${need}`);
  }
  // copy so the tensor owns aligned memory independent of the file buffer
  const bytes = new Uint8Array(buf.subarray(dataStart, dataStart + need));
  return { dtype, dims, data: typedArrayFromBytes(dtype, bytes, count) };
}

export function readNpy(file: string): HostTensor {
  const buf = readFileOrThrow(file);
  return parseNpy(buf, file);
}

export function encodeNpy(t: HostTensor): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (!descr) throw new AppError('NPY_INVALID', `cannot write ${t.dtype} tensors as .npy`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const data = bytesOf(t.data);
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

export function writeNpy(file: string, t: HostTensor): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, encodeNpy(t));
}

/** A file name for a tensor name ('/a/b:0' -> '_a_b_0'). */
export function npyFileName(tensorName: string): string {
  return `${tensorName.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`;
}

/**
 * Expects `t` to have the given dtype and shape (entries null = any); the error names the file
 * and what was expected.
 */
export function expectTensor(t: HostTensor, file: string, dtype: DType | DType[], shape?: (number | null)[]): void {
  const dtypes = Array.isArray(dtype) ? dtype : [dtype];
  if (!dtypes.includes(t.dtype)) {
    throw new AppError('NPY_INVALID', `${file}: expected ${dtypes.join(' or ')}, got ${t.dtype}`);
  }
  if (shape) {
    const ok = shape.length === t.dims.length && shape.every((d, i) => d === null || d === t.dims[i]);
    if (!ok) {
      throw new AppError('NPY_INVALID', `${file}: expected shape (${shape.map((d) => (d === null ? '*' : d)).join(', ')}), got (${t.dims.join(', ')})`);
    }
  }
}
