import { numel } from '../ir.js';
import { castValue } from './fold-helpers.js';
import type { OpDef } from './op.js';

// shape: [max(0, ⌈(limit - start) / delta⌉)]; fold: y[i] = start + i · delta
export const Range: OpDef = {
  opType: 'Range',
  infer(ctx) {
    const [s, l, d] = [0, 1, 2].map((i) => ctx.constInts(i, 'range bound')![0]);
    return ctx.one([Math.max(0, Math.ceil((l - s) / d))]);
  },
  fold(ctx) {
    const out0 = ctx.out[0];
    const [s, d] = [ctx.input(0).v[0], ctx.input(2).v[0]];
    const n = numel(out0.dims);
    return [{ dtype: out0.dtype, dims: out0.dims, v: Array.from({ length: n }, (_, i) => castValue(s + i * d, out0.dtype)) }];
  },
};
