import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../../src/main/engine/io/npy.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';

function header(dict: string, version = 1): Uint8Array {
  const base = 10 + (version === 1 ? 0 : 2);
  let h = dict;
  h += ' '.repeat((64 - ((base + h.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(base + h.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), base);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

describe('.npy files', () => {
  const tensors: HostTensor[] = [
    { dtype: 'float32', dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) },
    { dtype: 'int64', dims: [], data: BigInt64Array.from([261n]) },
    { dtype: 'int64', dims: [3], data: BigInt64Array.from([-1n, 0n, 9007199254740993n]) },
    { dtype: 'float64', dims: [1, 1, 2], data: Float64Array.from([Math.PI, -0]) },
    { dtype: 'uint8', dims: [4], data: Uint8Array.from([0, 1, 254, 255]) },
    { dtype: 'bool', dims: [2], data: Uint8Array.from([1, 0]) },
    { dtype: 'float32', dims: [0, 4], data: new Float32Array(0) },
  ];
  for (const t of tensors) {
    it(`round-trips ${t.dtype} of shape (${t.dims.join(', ')})`, () => {
      const back = parseNpy(encodeNpy(t));
      expect(back.dtype).toBe(t.dtype);
      expect(back.dims).toEqual(t.dims);
      expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    });
  }

  it('writes headers aligned to 64 bytes as NumPy does', () => {
    const bytes = encodeNpy(tensors[0]);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLen) % 64).toBe(0);
  });

  it('reads format version 2 headers', () => {
    const bytes = concat(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 2), new Uint8Array(Float32Array.from([1.5, 2.5]).buffer));
    expect(Array.from(parseNpy(bytes).data as Float32Array)).toEqual([1.5, 2.5]);
  });

  it('rejects a file that is not .npy', () => {
    expect(() => parseNpy(new TextEncoder().encode('hello, world'), 'x.npy')).toThrow(/x\.npy: not a NumPy \.npy file/);
  });

  it('rejects Fortran order', () => {
    const bytes = concat(header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }"), new Uint8Array(4));
    expect(() => parseNpy(bytes, 'f.npy')).toThrow(/f\.npy: Fortran-ordered arrays are not supported/);
  });

  it('rejects unsupported dtypes and names them', () => {
    const bytes = concat(header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }"), new Uint8Array(4));
    expect(() => parseNpy(bytes, 'b.npy')).toThrow(/b\.npy: unsupported dtype '>f4'/);
  });

  it('rejects data that does not match the shape', () => {
    const bytes = concat(header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), new Uint8Array(8));
    expect(() => parseNpy(bytes, 's.npy')).toThrow(/s\.npy: holds 8 bytes of data but shape \(3\) of float32 needs 12/);
  });
});
