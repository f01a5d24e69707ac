/**
 * Writes MATLAB Level 5 MAT-files for tests, the way MATLAB does: a 128-byte header, one miMATRIX
 * element per variable (array flags, dimensions, name, real part), the small data element format
 * for names and data of at most 4 bytes, 8-byte padding, and with `compress` each variable wrapped
 * in a zlib miCOMPRESSED element as `save -v7` (MATLAB's default) writes. Numeric data can be
 * stored with a narrower element type than its class (MATLAB saves a double matrix of small
 * integers as uint8), in either byte order.
 */
import zlib from 'node:zlib';

export type MatNumericClass = 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32';
type StoreType = MatNumericClass;

export type MatVarSpec =
  | {
      name: string;
      class: MatNumericClass;
      /** MATLAB dimensions, e.g. [rows, cols]. */
      dims: number[];
      /** Column-major values. */
      data: ArrayLike<number>;
      /** Element type of the stored data (default: the class's own). */
      storeAs?: StoreType;
      compress?: boolean;
      logical?: boolean;
    }
  | { name: string; class: 'char'; text: string; compress?: boolean }
  | { name: string; class: 'cell'; cells: MatVarSpec[]; compress?: boolean };

export interface MatWriteOptions {
  /** Wrap every variable in miCOMPRESSED (default true, like MATLAB -v7); a variable's own `compress` wins. */
  compress?: boolean;
  bigEndian?: boolean;
}

const MI: Record<StoreType | 'matrix' | 'compressed' | 'utf16', number> = {
  int8: 1,
  uint8: 2,
  int16: 3,
  uint16: 4,
  int32: 5,
  uint32: 6,
  single: 7,
  double: 9,
  matrix: 14,
  compressed: 15,
  utf16: 17,
};
const MX: Record<MatNumericClass | 'char' | 'cell', number> = {
  cell: 1,
  char: 4,
  double: 6,
  single: 7,
  int8: 8,
  uint8: 9,
  int16: 10,
  uint16: 11,
  int32: 12,
  uint32: 13,
};
const SIZE: Record<StoreType, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, single: 4, double: 8 };

class Writer {
  constructor(readonly be: boolean) {}

  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  }

  /** A data element: small format when it fits in 4 bytes (and `small`), padded to 8 bytes. */
  element(type: number, data: Buffer, small = true): Buffer {
    if (small && data.length > 0 && data.length <= 4) {
      const word = this.u32(((data.length << 16) | type) >>> 0);
      return Buffer.concat([word, data, Buffer.alloc(4 - data.length)]);
    }
    const pad = (8 - (data.length % 8)) % 8;
    return Buffer.concat([this.u32(type), this.u32(data.length), data, Buffer.alloc(pad)]);
  }

  values(type: StoreType, data: ArrayLike<number>): Buffer {
    const size = SIZE[type];
    const b = Buffer.alloc(data.length * size);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      const o = i * size;
      const be = this.be;
      switch (type) {
        case 'int8':
          b.writeInt8(v, o);
          break;
        case 'uint8':
          b.writeUInt8(v, o);
          break;
        case 'int16':
          if (be) b.writeInt16BE(v, o);
          else b.writeInt16LE(v, o);
          break;
        case 'uint16':
          if (be) b.writeUInt16BE(v, o);
          else b.writeUInt16LE(v, o);
          break;
        case 'int32':
          if (be) b.writeInt32BE(v, o);
          else b.writeInt32LE(v, o);
          break;
        case 'uint32':
          if (be) b.writeUInt32BE(v, o);
          else b.writeUInt32LE(v, o);
          break;
        case 'single':
          if (be) b.writeFloatBE(v, o);
          else b.writeFloatLE(v, o);
          break;
        case 'double':
          if (be) b.writeDoubleBE(v, o);
          else b.writeDoubleLE(v, o);
          break;
      }
    }
    return b;
  }

  /** The content of a miMATRIX element (without its tag). */
  matrix(v: MatVarSpec): Buffer {
    const flagsWord = (mx: number, extra = 0) => Buffer.concat([this.u32(mx | extra), this.u32(0)]);
    const dimsOf = (dims: number[]) => this.element(MI.int32, this.values('int32', dims), false);
    const name = this.element(MI.int8, Buffer.from(v.name, 'latin1'));
    if (v.class === 'char') {
      const codes = Array.from(v.text, (c) => c.charCodeAt(0));
      return Buffer.concat([this.element(MI.uint32, flagsWord(MX.char), false), dimsOf([1, codes.length]), name, this.element(MI.uint16, this.values('uint16', codes))]);
    }
    if (v.class === 'cell') {
      const cells = v.cells.map((c) => this.element(MI.matrix, this.matrix({ ...c, name: '' }), false));
      return Buffer.concat([this.element(MI.uint32, flagsWord(MX.cell), false), dimsOf([1, v.cells.length]), name, ...cells]);
    }
    const count = v.dims.reduce((a, b) => a * b, 1);
    if (count !== v.data.length) throw new Error(`mat writer: ${v.name} has ${v.data.length} values for dims ${v.dims}`);
    const store = v.storeAs ?? v.class;
    return Buffer.concat([this.element(MI.uint32, flagsWord(MX[v.class], v.logical ? 0x0200 : 0), false), dimsOf(v.dims), name, this.element(MI[store], this.values(store, v.data))]);
  }
}

export function writeMat(vars: MatVarSpec[], options: MatWriteOptions = {}): Buffer {
  const be = options.bigEndian ?? false;
  const w = new Writer(be);
  const text = `MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024`.padEnd(116, ' ');
  const header = Buffer.alloc(128, 0);
  header.write(text, 0, 'latin1');
  if (be) {
    header.writeUInt16BE(0x0100, 124);
    header.write('MI', 126, 'latin1');
  } else {
    header.writeUInt16LE(0x0100, 124);
    header.write('IM', 126, 'latin1');
  }
  const parts: Buffer[] = [header];
  for (const v of vars) {
    const matrixElement = w.element(MI.matrix, w.matrix(v), false);
    if (v.compress ?? options.compress ?? true) {
      const z = zlib.deflateSync(matrixElement);
      parts.push(w.u32(MI.compressed), w.u32(z.length), z);
    } else {
      parts.push(matrixElement);
    }
  }
  return Buffer.concat(parts);
}

/** Column-major data of a rows x cols matrix given as rows. */
export function columnMajor(rows: number[][]): number[] {
  const r = rows.length;
  const c = r === 0 ? 0 : rows[0]!.length;
  const out: number[] = [];
  for (let j = 0; j < c; j++) for (let i = 0; i < r; i++) out.push(rows[i]![j]!);
  return out;
}
