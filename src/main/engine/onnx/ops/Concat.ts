import { attrInt, numel } from '../ir.js';
import type { ConstVal, OpDef, TensorInfo } from './op.js';
import { normAxis, shapeError } from './shape-helpers.js';

// shape: the inputs' common dims, summed along axis; fold: the blocks side by side
export const Concat: OpDef = {
  opType: 'Concat',
  infer(ctx) {
    const { node } = ctx;
    const parts = ctx.ins.filter((t): t is TensorInfo => !!t);
    const rank = parts[0].dims.length;
    const axis = normAxis(node, attrInt(node, 'axis'), rank);
    const out = [...parts[0].dims];
    out[axis] = 0;
    for (const p of parts) {
      if (p.dims.length !== rank) throw shapeError(node, 'inputs differ in rank');
      p.dims.forEach((d, i) => {
        if (i !== axis && d !== out[i]) throw shapeError(node, `inputs differ in dimension ${i}`);
      });
      out[axis] += p.dims[axis];
    }
    return ctx.one(out);
  },
  fold(ctx) {
    const parts = ctx.ins.filter((t): t is ConstVal => !!t);
    const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis'), parts[0].dims.length);
    const outer = numel(parts[0].dims.slice(0, axis));
    const v: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const p of parts) {
        const block = numel(p.dims.slice(axis));
        for (let i = 0; i < block; i++) v.push(p.v[o * block + i]);
      }
    }
    return [{ dtype: ctx.out[0].dtype, dims: ctx.out[0].dims, v }];
  },
};
