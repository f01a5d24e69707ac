/**
 * A reader for MATLAB Level 5 MAT-files (what `save -v6` and the default `save -v7` write), enough
 * for benchmark annotations: numeric arrays of any class (double, single, int8..uint64, logical),
 * stored with any element type (MATLAB stores a double matrix of small integers as uint8, say),
 * zlib-compressed variables (miCOMPRESSED), both byte orders, the small-element format. Other
 * classes (char, cell, struct, sparse, objects) are listed with their class but not decoded.
 *
 * Why our own instead of `mat-for-js`: that package is GPL-3.0 (this application is not), pulls in
 * `pako` where Node has zlib, builds JS arrays element by element, mis-reads small elements in
 * big-endian files, and its errors do not name the variable or offset. This is ~250 lines with
 * typed arrays and errors that say which file and which variable is wrong.
 *
 * Format: MathWorks, "MAT-File Format" (matfile_format.pdf), chapter 1, Level 5 MAT-files.
 */
import zlib from 'node:zlib';
import { AppError } from '../../shared/errors.js';

export type MatClass =
  'cell' | 'struct' | 'object' | 'char' | 'sparse' | 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'function' | 'opaque' | 'unknown';

export interface MatVariable {
  name: string;
  class: MatClass;
  /** MATLAB dimensions (at least two). */
  dims: number[];
  /** Numeric classes: the real part in column-major order, converted to float64. */
  real?: Float64Array;
  imag?: Float64Array;
  logical: boolean;
  global: boolean;
}

const CLASS_BY_CODE: Record<number, MatClass> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
  16: 'function',
  17: 'opaque',
};
const NUMERIC: ReadonlySet<MatClass> = new Set(['double', 'single', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

// Data element types (miXXX).
const MI_INT8 = 1;
const MI_UINT8 = 2;
const MI_INT16 = 3;
const MI_UINT16 = 4;
const MI_INT32 = 5;
const MI_UINT32 = 6;
const MI_SINGLE = 7;
const MI_DOUBLE = 9;
const MI_INT64 = 12;
const MI_UINT64 = 13;
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
const MI_UTF8 = 16;
const MI_UTF16 = 17;
const MI_UTF32 = 18;

const ELEMENT_SIZE: Record<number, number> = {
  [MI_INT8]: 1,
  [MI_UINT8]: 1,
  [MI_INT16]: 2,
  [MI_UINT16]: 2,
  [MI_INT32]: 4,
  [MI_UINT32]: 4,
  [MI_SINGLE]: 4,
  [MI_DOUBLE]: 8,
  [MI_INT64]: 8,
  [MI_UINT64]: 8,
  [MI_UTF8]: 1,
  [MI_UTF16]: 2,
  [MI_UTF32]: 4,
};

interface Element {
  type: number;
  /** Data bytes of the element. */
  data: Buffer;
  /** Offset of the next element. */
  next: number;
}

class Reader {
  constructor(
    readonly file: string,
    readonly le: boolean,
  ) {}

  fail(message: string): never {
    throw new AppError('DATASET_INVALID', `${this.file}: not a valid MAT-file: ${message}`);
  }

  u32(buf: Buffer, o: number): number {
    return this.le ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
  }

  /** Reads the data element at `o` within `buf[..end)`. */
  element(buf: Buffer, o: number, end: number, where: string): Element {
    if (o + 8 > end) this.fail(`${where}: truncated element tag at byte ${o}`);
    const w0 = this.u32(buf, o);
    if (w0 >>> 16 !== 0) {
      // Small data element: type and byte count share the first word, data in the next 4 bytes.
      const type = w0 & 0xffff;
      const n = w0 >>> 16;
      if (n > 4) this.fail(`${where}: small data element claims ${n} bytes`);
      return { type, data: buf.subarray(o + 4, o + 4 + n), next: o + 8 };
    }
    const type = w0;
    const n = this.u32(buf, o + 4);
    if (o + 8 + n > end) this.fail(`${where}: element of ${n} bytes at byte ${o} runs past the end (${end - o - 8} bytes left); the file is truncated`);
    const padded = type === MI_COMPRESSED ? n : Math.ceil(n / 8) * 8;
    return { type, data: buf.subarray(o + 8, o + 8 + n), next: Math.min(o + 8 + padded, end) };
  }

  /** Numeric data of any element type, as float64. */
  numbers(el: Element, where: string): Float64Array {
    const size = ELEMENT_SIZE[el.type];
    if (size === undefined || el.type === MI_UTF8 || el.type === MI_UTF16 || el.type === MI_UTF32) this.fail(`${where}: element type ${el.type} is not numeric`);
    if (el.data.length % size !== 0) this.fail(`${where}: ${el.data.length} bytes is not a whole number of ${size}-byte values`);
    const n = el.data.length / size;
    const out = new Float64Array(n);
    const d = el.data;
    const le = this.le;
    for (let i = 0; i < n; i++) {
      const o = i * size;
      switch (el.type) {
        case MI_INT8:
          out[i] = d.readInt8(o);
          break;
        case MI_UINT8:
          out[i] = d[o]!;
          break;
        case MI_INT16:
          out[i] = le ? d.readInt16LE(o) : d.readInt16BE(o);
          break;
        case MI_UINT16:
          out[i] = le ? d.readUInt16LE(o) : d.readUInt16BE(o);
          break;
        case MI_INT32:
          out[i] = le ? d.readInt32LE(o) : d.readInt32BE(o);
          break;
        case MI_UINT32:
          out[i] = le ? d.readUInt32LE(o) : d.readUInt32BE(o);
          break;
        case MI_SINGLE:
          out[i] = le ? d.readFloatLE(o) : d.readFloatBE(o);
          break;
        case MI_DOUBLE:
          out[i] = le ? d.readDoubleLE(o) : d.readDoubleBE(o);
          break;
        case MI_INT64:
          out[i] = Number(le ? d.readBigInt64LE(o) : d.readBigInt64BE(o));
          break;
        case MI_UINT64:
          out[i] = Number(le ? d.readBigUInt64LE(o) : d.readBigUInt64BE(o));
          break;
      }
    }
    return out;
  }

  /** Parses a miMATRIX element's contents. */
  matrix(buf: Buffer, where: string): MatVariable {
    const end = buf.length;
    const flagsEl = this.element(buf, 0, end, `${where} array flags`);
    if (flagsEl.type !== MI_UINT32 || flagsEl.data.length !== 8) this.fail(`${where}: array flags must be 8 bytes of miUINT32`);
    const flags = this.u32(flagsEl.data, 0);
    const cls = CLASS_BY_CODE[flags & 0xff] ?? 'unknown';
    const complex = (flags & 0x0800) !== 0;
    const global = (flags & 0x0400) !== 0;
    const logical = (flags & 0x0200) !== 0;
    const dimsEl = this.element(buf, flagsEl.next, end, `${where} dimensions`);
    if (dimsEl.type !== MI_INT32 || dimsEl.data.length % 4 !== 0 || dimsEl.data.length < 8) this.fail(`${where}: dimensions must be at least two miINT32 values`);
    const dims: number[] = [];
    for (let o = 0; o < dimsEl.data.length; o += 4) {
      const d = this.le ? dimsEl.data.readInt32LE(o) : dimsEl.data.readInt32BE(o);
      if (d < 0) this.fail(`${where}: negative dimension ${d}`);
      dims.push(d);
    }
    const nameEl = this.element(buf, dimsEl.next, end, `${where} name`);
    if (nameEl.type !== MI_INT8 && nameEl.type !== MI_UINT8) this.fail(`${where}: array name must be miINT8`);
    const name = nameEl.data.toString('latin1');
    const variable: MatVariable = { name, class: cls, dims, logical, global };
    if (!NUMERIC.has(cls)) return variable;
    const label = `variable '${name}'`;
    const count = dims.reduce((a, b) => a * b, 1);
    const realEl = this.element(buf, nameEl.next, end, `${label} real part`);
    const real = this.numbers(realEl, `${label} real part`);
    if (real.length !== count) this.fail(`${label}: ${real.length} values for dimensions [${dims.join(' x ')}] (${count} expected)`);
    variable.real = real;
    if (complex) {
      const imagEl = this.element(buf, realEl.next, end, `${label} imaginary part`);
      const imag = this.numbers(imagEl, `${label} imaginary part`);
      if (imag.length !== count) this.fail(`${label}: ${imag.length} imaginary values for ${count} elements`);
      variable.imag = imag;
    }
    return variable;
  }
}

/** Whether a buffer starts like a MAT-file we can read (used for clearer errors). */
function headerProblem(buf: Buffer): string | null {
  if (buf.length < 128) return `only ${buf.length} bytes; a MAT-file header alone is 128`;
  const text = buf.subarray(0, 116).toString('latin1');
  if (/^MATLAB 7\.3 MAT-file/.test(text)) return 'it is a MATLAB v7.3 (HDF5) file; re-save it with save(..., "-v7")';
  if (!text.startsWith('MATLAB')) return "it does not start with a MATLAB Level 5 header ('MATLAB 5.0 MAT-file ...')";
  const endian = buf.subarray(126, 128).toString('latin1');
  if (endian !== 'IM' && endian !== 'MI') return `bad byte-order mark '${endian}' at byte 126`;
  return null;
}

/**
 * Reads the variables of a Level 5 MAT-file. Throws DATASET_INVALID naming `file` (the name to
 * show the user) for anything malformed: bad header, truncation, corrupt zlib data, sizes that do
 * not add up.
 */
export function readMat(buf: Buffer, file: string): Map<string, MatVariable> {
  const problem = headerProblem(buf);
  if (problem) throw new AppError('DATASET_INVALID', `${file}: not a valid MAT-file: ${problem}`);
  const le = buf.subarray(126, 128).toString('latin1') === 'IM';
  const r: Reader = new Reader(file, le);
  const version = le ? buf.readUInt16LE(124) : buf.readUInt16BE(124);
  if (version !== 0x0100) r.fail(`unsupported version 0x${version.toString(16)} (expected 0x0100)`);
  const vars = new Map<string, MatVariable>();
  let o = 128;
  let index = 0;
  while (o < buf.length) {
    // Some writers pad the end of the file; a lone short tail is not an element.
    if (buf.length - o < 8) {
      if (buf.subarray(o).every((b) => b === 0)) break;
      r.fail(`trailing ${buf.length - o} bytes at byte ${o}`);
    }
    const el = r.element(buf, o, buf.length, `element ${index}`);
    let matrixData: Buffer;
    if (el.type === MI_COMPRESSED) {
      let inflated: Buffer;
      try {
        inflated = zlib.inflateSync(el.data);
      } catch (err) {
        r.fail(`compressed element ${index} at byte ${o} is corrupt (zlib: ${err instanceof Error ? err.message : String(err)})`);
      }
      const inner = r.element(inflated, 0, inflated.length, `compressed element ${index}`);
      if (inner.type !== MI_MATRIX) r.fail(`compressed element ${index} holds type ${inner.type}, not a matrix`);
      matrixData = inner.data;
    } else if (el.type === MI_MATRIX) {
      matrixData = el.data;
    } else {
      r.fail(`top-level element ${index} at byte ${o} has type ${el.type}; expected a matrix (14) or compressed data (15)`);
    }
    if (matrixData.length > 0) {
      const v = r.matrix(matrixData, `element ${index}`);
      vars.set(v.name, v);
    }
    o = el.next;
    index++;
  }
  return vars;
}

/** A numeric variable as rows x cols (row-major copy), or a DATASET_INVALID error naming it. */
export function matMatrix(vars: Map<string, MatVariable>, name: string, file: string): { rows: number; cols: number; at(r: number, c: number): number } {
  const v = vars.get(name);
  if (!v) throw new AppError('DATASET_INVALID', `${file}: variable '${name}' is missing (variables: ${[...vars.keys()].join(', ') || 'none'})`);
  if (!v.real) throw new AppError('DATASET_INVALID', `${file}: variable '${name}' is ${v.class}, not a numeric array`);
  if (v.dims.length !== 2) throw new AppError('DATASET_INVALID', `${file}: variable '${name}' has ${v.dims.length} dimensions, expected a matrix`);
  const [rows, cols] = v.dims as [number, number];
  const real = v.real;
  return { rows, cols, at: (r, c) => real[c * rows + r]! };
}
