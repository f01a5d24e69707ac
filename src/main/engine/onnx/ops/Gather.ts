import { attrInt, numel } from '../ir.js';
import type { OpDef } from './op.js';
import { normAxis } from './shape-helpers.js';

// shape: X's dims with the axis replaced by the indices' dims; fold: y[..., j, ...] = x[..., idx[j] (negative from the end), ...]
export const Gather: OpDef = {
  opType: 'Gather',
  infer(ctx) {
    const xd = ctx.need(0).dims;
    const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), xd.length);
    return ctx.one([...xd.slice(0, axis), ...ctx.need(1).dims, ...xd.slice(axis + 1)]);
  },
  fold(ctx) {
    const x = ctx.input(0);
    const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.dims.length);
    const idx = ctx.input(1);
    const outer = numel(x.dims.slice(0, axis));
    const inner = numel(x.dims.slice(axis + 1));
    const d = x.dims[axis];
    const v: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const raw of idx.v) {
        const k = raw < 0 ? raw + d : raw;
        for (let i = 0; i < inner; i++) v.push(x.v[(o * d + k) * inner + i]);
      }
    }
    return [{ dtype: x.dtype, dims: ctx.out[0].dims, v }];
  },
};
