/**
 * Host arithmetic shared by the folding rules: values are plain number arrays; float32 results are
 * rounded to float32 after every op so folded values equal what ONNX Runtime would compute.
 */
import type { DType } from '../dtypes.js';
import { numel, readTensor, type TensorValue } from '../ir.js';
import type { ConstVal } from './op.js';

/** Row-major strides of `dims`. */
export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** Rounds to the value set of `dtype` (float32 rounding, integer truncation and wrap for narrow ints). */
export function castValue(v: number, to: DType): number {
  switch (to) {
    case 'float32':
      return Math.fround(v);
    case 'float64':
    case 'float16':
    case 'bfloat16':
      return v;
    case 'bool':
      return v !== 0 ? 1 : 0;
    case 'int32':
      return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
    case 'int64':
    case 'uint64':
      return Number.isFinite(v) ? Math.trunc(v) : 0;
    case 'int8':
      return (Math.trunc(v) << 24) >> 24;
    case 'uint8':
      return Math.trunc(v) & 0xff;
    case 'int16':
      return (Math.trunc(v) << 16) >> 16;
    case 'uint16':
      return Math.trunc(v) & 0xffff;
    case 'uint32':
      return Math.trunc(v) >>> 0;
    default:
      return v;
  }
}

/** A tensor's values as plain numbers. */
export function constFromTensor(t: TensorValue): ConstVal {
  const h = readTensor(t);
  const v: number[] = new Array(h.data.length);
  for (let i = 0; i < h.data.length; i++) v[i] = Number(h.data[i] as number | bigint);
  return { dtype: t.dtype, dims: [...t.dims], v };
}

/** Whether `d` is an integer (or bool) type: Div truncates there. */
export function isIntType(d: DType): boolean {
  return d !== 'float32' && d !== 'float64' && d !== 'float16' && d !== 'bfloat16';
}

/** Maps a flat output index to the flat index of a broadcast input. */
function broadcastIndexer(outDims: number[], inDims: number[]): (i: number) => number {
  const rank = outDims.length;
  const pad = rank - inDims.length;
  const inStr = strides(inDims);
  const outStr = strides(outDims);
  const same = inDims.length === outDims.length && inDims.every((d, i) => d === outDims[i]);
  if (same) return (i) => i;
  if (numel(inDims) === 1) return () => 0;
  return (i) => {
    let idx = 0;
    let rem = i;
    for (let k = 0; k < rank; k++) {
      const c = Math.floor(rem / outStr[k]);
      rem -= c * outStr[k];
      const j = k - pad;
      if (j >= 0 && inDims[j] !== 1) idx += c * inStr[j];
    }
    return idx;
  };
}

/** Elementwise `f` over broadcast inputs, each result rounded to `outType`. */
export function mapN(outDims: number[], ins: ConstVal[], f: (...xs: number[]) => number, outType: DType): ConstVal {
  const n = numel(outDims);
  const idx = ins.map((t) => broadcastIndexer(outDims, t.dims));
  const v = new Array<number>(n);
  const args = new Array<number>(ins.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ins.length; k++) args[k] = ins[k].v[idx[k](i)];
    v[i] = castValue(f(...args), outType);
  }
  return { dtype: outType, dims: outDims, v };
}

/** The error function, to float64 precision. */
export function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction good to ~1e-15.
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = x;
    let term = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
  return Math.sign(x) * (1 - erfc);
}

/** Output element i reads input element at per-axis coordinate source(axis, c) (c = output coordinate). */
function gatherByAxis(x: ConstVal, outDims: number[], source: (axis: number, c: number) => number): ConstVal {
  const inStr = strides(x.dims);
  const outStr = strides(outDims);
  const n = numel(outDims);
  const v = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = 0;
    for (let k = 0; k < outDims.length; k++) {
      const c = Math.floor(rem / outStr[k]);
      rem -= c * outStr[k];
      src += source(k, c) * inStr[k];
    }
    v[i] = x.v[src];
  }
  return { dtype: x.dtype, dims: outDims, v };
}

/** The strided window `start + c * step` of `x` per axis (Slice, Split). */
export function gatherStrided(x: ConstVal, outDims: number[], start: number[], step: number[]): ConstVal {
  return gatherByAxis(x, outDims, (k, c) => start[k] + c * step[k]);
}

/** `x` repeated to `outDims` (Tile). */
export function mapTile(x: ConstVal, outDims: number[]): ConstVal {
  return gatherByAxis(x, outDims, (k, c) => c % x.dims[k]);
}
