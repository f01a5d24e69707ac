/**
 * Evaluates small constant subgraphs on the host during specialisation (shape arithmetic,
 * masks, index tables). Values are plain number arrays; float32 results are rounded to float32
 * after every op so folded values equal what ONNX Runtime would compute.
 */
import { dtypeFromCode, type DType } from './dtypes.js';
import { type Node, attrInt, attrInts, numel, readTensor, type TensorValue } from './ir.js';
import {
  type ConstVal,
  normAxis,
  reduceAxes,
  REDUCE_AXES_INPUT_OPSET,
  sliceParams,
  splitSizes,
} from './shape-infer.js';

export const EVALUABLE = new Set([
  'Constant', 'Identity', 'Shape', 'Size', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Cast', 'Slice', 'Reshape',
  'Flatten', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Neg', 'Abs', 'Sqrt', 'Exp', 'Log', 'Sin', 'Cos', 'Floor',
  'Ceil', 'Reciprocal', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Where',
  'Expand', 'Range', 'ConstantOfShape', 'Transpose', 'ReduceProd', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'Min',
  'Max', 'Split', 'Tile', 'Trilu', 'Erf', 'Tanh', 'Sigmoid',
]);

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
      return ((Math.trunc(v) << 24) >> 24);
    case 'uint8':
      return Math.trunc(v) & 0xff;
    case 'int16':
      return ((Math.trunc(v) << 16) >> 16);
    case 'uint16':
      return Math.trunc(v) & 0xffff;
    case 'uint32':
      return Math.trunc(v) >>> 0;
    default:
      return v;
  }
}

export function constFromTensor(t: TensorValue): ConstVal {
  const h = readTensor(t);
  const v: number[] = new Array(h.data.length);
  for (let i = 0; i < h.data.length; i++) v[i] = Number(h.data[i] as number | bigint);
  return { dtype: t.dtype, dims: [...t.dims], v };
}

function isIntType(d: DType): boolean {
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

function mapN(outDims: number[], ins: ConstVal[], f: (...xs: number[]) => number, outType: DType): ConstVal {
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

function erf(x: number): number {
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
  for (let n = 60; n >= 1; n--) f = (n / 2) / (t + f);
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
  return Math.sign(x) * (1 - erfc);
}

/** Evaluates `node` on constant inputs; `outDims` come from shape inference. Returns null if not evaluable. */
export function evalNode(
  node: Node,
  ins: (ConstVal | undefined)[],
  outInfo: { dtype: DType; dims: number[] }[],
  opset: number,
): ConstVal[] | null {
  const out0 = outInfo[0];
  const x = ins[0];
  const unary = (f: (a: number) => number) => [mapN(out0.dims, [x!], f, out0.dtype)];
  const binary = (f: (a: number, b: number) => number) => [mapN(out0.dims, [x!, ins[1]!], f, out0.dtype)];
  const intDiv = x && isIntType(x.dtype);
  switch (node.opType) {
    case 'Constant': {
      const a = node.attrs.value;
      if (a && a.type === 'tensor') return [constFromTensor(a.value)];
      const f = node.attrs.value_float ?? node.attrs.value_int;
      if (f && (f.type === 'float' || f.type === 'int')) return [{ dtype: out0.dtype, dims: [], v: [f.value] }];
      const l = node.attrs.value_floats ?? node.attrs.value_ints;
      if (l && (l.type === 'floats' || l.type === 'ints')) return [{ dtype: out0.dtype, dims: [l.value.length], v: [...l.value] }];
      return null;
    }
    case 'Identity':
      return [{ ...x!, dims: out0.dims }];
    case 'Cast': {
      const to = dtypeFromCode(attrInt(node, 'to'))!;
      return [{ dtype: to, dims: x!.dims, v: x!.v.map((a) => castValue(a, to)) }];
    }
    case 'Add':
      return binary((a, b) => a + b);
    case 'Sub':
      return binary((a, b) => a - b);
    case 'Mul':
      return binary((a, b) => a * b);
    case 'Div':
      return binary((a, b) => (intDiv ? Math.trunc(a / b) : a / b));
    case 'Pow':
      return binary((a, b) => Math.pow(a, b));
    case 'Mod': {
      const fmod = attrInt(node, 'fmod', 0);
      return binary((a, b) => (fmod ? a % b : ((a % b) + b) % b));
    }
    case 'Min':
      return [mapN(out0.dims, ins as ConstVal[], (...a) => Math.min(...a), out0.dtype)];
    case 'Max':
      return [mapN(out0.dims, ins as ConstVal[], (...a) => Math.max(...a), out0.dtype)];
    case 'Neg':
      return unary((a) => -a);
    case 'Abs':
      return unary(Math.abs);
    case 'Sqrt':
      return unary(Math.sqrt);
    case 'Exp':
      return unary(Math.exp);
    case 'Log':
      return unary(Math.log);
    case 'Sin':
      return unary(Math.sin);
    case 'Cos':
      return unary(Math.cos);
    case 'Tanh':
      return unary(Math.tanh);
    case 'Sigmoid':
      return unary((a) => 1 / (1 + Math.exp(-a)));
    case 'Erf':
      return unary(erf);
    case 'Floor':
      return unary(Math.floor);
    case 'Ceil':
      return unary(Math.ceil);
    case 'Reciprocal':
      return unary((a) => 1 / a);
    case 'Not':
      return unary((a) => (a ? 0 : 1));
    case 'Equal':
      return binary((a, b) => (a === b ? 1 : 0));
    case 'Less':
      return binary((a, b) => (a < b ? 1 : 0));
    case 'LessOrEqual':
      return binary((a, b) => (a <= b ? 1 : 0));
    case 'Greater':
      return binary((a, b) => (a > b ? 1 : 0));
    case 'GreaterOrEqual':
      return binary((a, b) => (a >= b ? 1 : 0));
    case 'And':
      return binary((a, b) => (a && b ? 1 : 0));
    case 'Or':
      return binary((a, b) => (a || b ? 1 : 0));
    case 'Where':
      return [mapN(out0.dims, [x!, ins[1]!, ins[2]!], (c, a, b) => (c ? a : b), out0.dtype)];
    case 'Shape':
    case 'Size':
      return null; // handled from shapes by the caller
    case 'Reshape':
    case 'Flatten':
    case 'Squeeze':
    case 'Unsqueeze':
      return [{ dtype: x!.dtype, dims: out0.dims, v: x!.v }];
    case 'Expand':
      return [mapN(out0.dims, [x!], (a) => a, out0.dtype)];
    case 'ConstantOfShape': {
      const a = node.attrs.value;
      const fill = a && a.type === 'tensor' ? constFromTensor(a.value).v[0] : 0;
      return [{ dtype: out0.dtype, dims: out0.dims, v: new Array(numel(out0.dims)).fill(fill) }];
    }
    case 'Range': {
      const [s, , d] = [ins[0]!.v[0], ins[1]!.v[0], ins[2]!.v[0]];
      const n = numel(out0.dims);
      return [{ dtype: out0.dtype, dims: out0.dims, v: Array.from({ length: n }, (_, i) => castValue(s + i * d, out0.dtype)) }];
    }
    case 'Gather': {
      const axis = normAxis(node, attrInt(node, 'axis', 0), x!.dims.length);
      const idx = ins[1]!;
      const outer = numel(x!.dims.slice(0, axis));
      const inner = numel(x!.dims.slice(axis + 1));
      const d = x!.dims[axis];
      const v: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const raw of idx.v) {
          const k = raw < 0 ? raw + d : raw;
          for (let i = 0; i < inner; i++) v.push(x!.v[(o * d + k) * inner + i]);
        }
      }
      return [{ dtype: x!.dtype, dims: out0.dims, v }];
    }
    case 'Concat': {
      const parts = ins.filter((t): t is ConstVal => !!t);
      const axis = normAxis(node, attrInt(node, 'axis'), parts[0].dims.length);
      const outer = numel(parts[0].dims.slice(0, axis));
      const v: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const block = numel(p.dims.slice(axis));
          for (let i = 0; i < block; i++) v.push(p.v[o * block + i]);
        }
      }
      return [{ dtype: out0.dtype, dims: out0.dims, v }];
    }
    case 'Slice': {
      const starts = ins[1]!.v;
      const ends = ins[2]!.v;
      const axes = ins[3]?.v;
      const steps = ins[4]?.v;
      const params = sliceParams(node, x!.dims, starts, ends, axes, steps);
      const start = x!.dims.map(() => 0);
      const step = x!.dims.map(() => 1);
      for (const p of params) {
        start[p.axis] = p.start;
        step[p.axis] = p.step;
      }
      return [gatherStrided(x!, out0.dims, start, step)];
    }
    case 'Split': {
      const axis = normAxis(node, attrInt(node, 'axis', 0), x!.dims.length);
      const sizes = splitSizes(node, ins.map((t) => (t ? { dtype: t.dtype, dims: t.dims, value: t } : undefined)), opset, x!.dims[axis]);
      let offset = 0;
      return sizes.map((s, i) => {
        const start = x!.dims.map(() => 0);
        start[axis] = offset;
        offset += s;
        return gatherStrided(x!, outInfo[i].dims, start, x!.dims.map(() => 1));
      });
    }
    case 'Transpose': {
      const perm = node.attrs.perm ? attrInts(node, 'perm') : x!.dims.map((_, i) => x!.dims.length - 1 - i);
      const inStr = strides(x!.dims);
      const outDims = out0.dims;
      const outStr = strides(outDims);
      const n = numel(outDims);
      const v = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        let rem = i;
        let src = 0;
        for (let k = 0; k < outDims.length; k++) {
          const c = Math.floor(rem / outStr[k]);
          rem -= c * outStr[k];
          src += c * inStr[perm[k]];
        }
        v[i] = x!.v[src];
      }
      return [{ dtype: x!.dtype, dims: outDims, v }];
    }
    case 'Tile': {
      return [mapTile(x!, out0.dims)];
    }
    case 'ReduceProd':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin': {
      const info = ins.map((t) => (t ? { dtype: t.dtype, dims: t.dims, value: t } : undefined));
      const axes = new Set(reduceAxes(node, info, opset, REDUCE_AXES_INPUT_OPSET[node.opType], x!.dims.length));
      const init = node.opType === 'ReduceProd' ? 1 : node.opType === 'ReduceSum' ? 0 : node.opType === 'ReduceMax' ? -Infinity : Infinity;
      const f =
        node.opType === 'ReduceProd'
          ? (a: number, b: number) => a * b
          : node.opType === 'ReduceSum'
            ? (a: number, b: number) => a + b
            : node.opType === 'ReduceMax'
              ? Math.max
              : Math.min;
      const keptDims = x!.dims.map((d, i) => (axes.has(i) ? 1 : d));
      const kStr = strides(keptDims);
      const inStr = strides(x!.dims);
      const v = new Array<number>(numel(keptDims)).fill(init);
      for (let i = 0; i < x!.v.length; i++) {
        let rem = i;
        let o = 0;
        for (let k = 0; k < x!.dims.length; k++) {
          const c = Math.floor(rem / inStr[k]);
          rem -= c * inStr[k];
          if (!axes.has(k)) o += c * kStr[k];
        }
        v[o] = f(v[o], x!.v[i]);
      }
      return [{ dtype: out0.dtype, dims: out0.dims, v: v.map((a) => castValue(a, out0.dtype)) }];
    }
    case 'Trilu': {
      const upper = attrInt(node, 'upper', 1);
      const k = ins[1] ? ins[1].v[0] : 0;
      const [r, c] = x!.dims.slice(-2);
      const v = x!.v.map((a, i) => {
        const j = i % (r * c);
        const row = Math.floor(j / c);
        const col = j % c;
        const keep = upper ? col - row >= k : col - row <= k;
        return keep ? a : 0;
      });
      return [{ dtype: x!.dtype, dims: x!.dims, v }];
    }
    default:
      return null;
  }
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

function gatherStrided(x: ConstVal, outDims: number[], start: number[], step: number[]): ConstVal {
  return gatherByAxis(x, outDims, (k, c) => start[k] + c * step[k]);
}

function mapTile(x: ConstVal, outDims: number[]): ConstVal {
  return gatherByAxis(x, outDims, (k, c) => c % x.dims[k]);
}
