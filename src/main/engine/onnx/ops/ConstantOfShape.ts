import { numel } from '../ir.js';
import { constFromTensor } from './fold-helpers.js';
import type { OpDef } from './op.js';

// shape: the constant input's values; fold: filled with `value` (default 0)
export const ConstantOfShape: OpDef = {
  opType: 'ConstantOfShape',
  infer: (ctx) => ctx.one(ctx.constInts(0, 'shape')!),
  fold(ctx) {
    const out0 = ctx.out[0];
    const a = ctx.node.attrs.value;
    const fill = a && a.type === 'tensor' ? constFromTensor(a.value).v[0] : 0;
    return [{ dtype: out0.dtype, dims: out0.dims, v: new Array(numel(out0.dims)).fill(fill) }];
  },
};
