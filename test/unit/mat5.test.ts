/** The MATLAB Level 5 reader against files our writer produces the way MATLAB does. */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { matMatrix, readMat } from '../../src/main/engine/datasets/mat5.js';
import { columnMajor, writeMat } from '../helpers/mat5-writer.js';

const KPS = [
  [10.25, 20.5],
  [NaN, NaN],
  [300.125, 4.0625],
];

describe('readMat', () => {
  for (const compress of [true, false]) {
    for (const bigEndian of [false, true]) {
      it(`reads a double N x 2 matrix with NaN rows (${compress ? 'zlib-compressed' : 'uncompressed'}, ${bigEndian ? 'big' : 'little'}-endian)`, () => {
        const buf = writeMat([{ name: 'kps', class: 'double', dims: [3, 2], data: columnMajor(KPS) }], { compress, bigEndian });
        const vars = readMat(buf, 'a.mat');
        const v = vars.get('kps')!;
        expect(v).toMatchObject({ name: 'kps', class: 'double', dims: [3, 2] });
        const m = matMatrix(vars, 'kps', 'a.mat');
        expect([m.rows, m.cols]).toEqual([3, 2]);
        expect([m.at(0, 0), m.at(0, 1), m.at(2, 0), m.at(2, 1)]).toEqual([10.25, 20.5, 300.125, 4.0625]);
        expect(Number.isNaN(m.at(1, 0)) && Number.isNaN(m.at(1, 1))).toBe(true);
      });
    }
  }

  it('reads a uint16 class and a double stored as uint8 elements (as MATLAB saves small integers)', () => {
    const buf = writeMat([
      { name: 'bbox', class: 'uint16', dims: [1, 4], data: [3, 4, 500, 375] },
      { name: 'box2', class: 'double', dims: [1, 4], data: [1, 2, 200, 255], storeAs: 'uint8' },
      { name: 'neg', class: 'double', dims: [2, 1], data: [-7, 30000], storeAs: 'int16' },
    ]);
    const vars = readMat(buf, 'b.mat');
    expect(vars.get('bbox')).toMatchObject({ class: 'uint16', dims: [1, 4] });
    expect([...vars.get('bbox')!.real!]).toEqual([3, 4, 500, 375]);
    expect(vars.get('box2')!.class).toBe('double');
    expect([...vars.get('box2')!.real!]).toEqual([1, 2, 200, 255]);
    expect([...vars.get('neg')!.real!]).toEqual([-7, 30000]);
  });

  it('reads names and 1 x 1 values in the small data element format', () => {
    const buf = writeMat([{ name: 'k', class: 'uint8', dims: [1, 1], data: [42] }], { compress: false });
    expect([...readMat(buf, 'c.mat').get('k')!.real!]).toEqual([42]);
  });

  it('lists char, cell and logical variables without failing on them', () => {
    const buf = writeMat([
      { name: 'class', class: 'char', text: 'aeroplane' },
      { name: 'c', class: 'cell', cells: [{ name: '', class: 'double', dims: [1, 1], data: [1] }] },
      { name: 'mask', class: 'uint8', dims: [1, 2], data: [1, 0], logical: true },
      { name: 'kps', class: 'double', dims: [0, 0], data: [] },
    ]);
    const vars = readMat(buf, 'd.mat');
    expect(vars.get('class')).toMatchObject({ class: 'char', dims: [1, 9] });
    expect(vars.get('class')!.real).toBeUndefined();
    expect(vars.get('c')!.class).toBe('cell');
    expect(vars.get('mask')).toMatchObject({ logical: true });
    expect(vars.get('kps')).toMatchObject({ dims: [0, 0] });
  });

  it('names the file for a truncated file', () => {
    const buf = writeMat([{ name: 'kps', class: 'double', dims: [3, 2], data: columnMajor(KPS) }], { compress: false });
    expect(() => readMat(buf.subarray(0, buf.length - 9), 'trunc.mat')).toThrow(/^trunc\.mat: not a valid MAT-file: .*runs past the end .*truncated/);
  });

  it('names the file for corrupt zlib data', () => {
    const buf = Buffer.from(writeMat([{ name: 'kps', class: 'double', dims: [3, 2], data: columnMajor(KPS) }]));
    buf.fill(0x55, 140, 150);
    expect(() => readMat(buf, 'z.mat')).toThrow(/^z\.mat: not a valid MAT-file: compressed element 0 at byte 128 is corrupt \(zlib: /);
  });

  it('refuses MATLAB v7.3 (HDF5) and non-MAT files with what they are', () => {
    const h = Buffer.alloc(600);
    h.write('MATLAB 7.3 MAT-file, Platform: GLNXA64', 0, 'latin1');
    expect(() => readMat(h, 'h.mat')).toThrow(/h\.mat: not a valid MAT-file: it is a MATLAB v7\.3 \(HDF5\) file/);
    expect(() => readMat(Buffer.from('x'.repeat(200)), 'x.mat')).toThrow(/does not start with a MATLAB Level 5 header/);
    expect(() => readMat(Buffer.from('short'), 's.mat')).toThrow(/only 5 bytes/);
  });

  it('rejects a matrix whose data does not fill its dimensions', () => {
    // Hand-built: dims 3 x 2 but only 4 doubles.
    const good = writeMat([{ name: 'kps', class: 'double', dims: [2, 2], data: [1, 2, 3, 4] }], { compress: false });
    const bad = Buffer.from(good);
    bad.writeInt32LE(3, 128 + 8 + 16 + 8); // first dimension
    expect(() => readMat(bad, 'dims.mat')).toThrow(/variable 'kps': 4 values for dimensions \[3 x 2\] \(6 expected\)/);
  });

  it('says which variable is missing or not numeric', () => {
    const vars = readMat(writeMat([{ name: 'class', class: 'char', text: 'car' }]), 'e.mat');
    expect(() => matMatrix(vars, 'kps', 'e.mat')).toThrow(/e\.mat: variable 'kps' is missing \(variables: class\)/);
    expect(() => matMatrix(vars, 'class', 'e.mat')).toThrow(/e\.mat: variable 'class' is char, not a numeric array/);
  });

  it('inflates what zlib wrote (sanity of the writer)', () => {
    const buf = writeMat([{ name: 'kps', class: 'double', dims: [1, 2], data: [1, 2] }]);
    expect(buf.readUInt32LE(128)).toBe(15);
    expect(zlib.inflateSync(buf.subarray(136)).readUInt32LE(0)).toBe(14);
  });
});
