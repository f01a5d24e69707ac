import { constFromTensor } from './fold-helpers.js';
import type { OpDef } from './op.js';
import { shapeError } from './shape-helpers.js';

// shape: the tensor's dims, a scalar for value_float/value_int, [n] for value_floats/value_ints; fold: those values
export const Constant: OpDef = {
  opType: 'Constant',
  infer(ctx) {
    const { node } = ctx;
    const v = node.attrs.value;
    if (v && v.type === 'tensor') return ctx.one(v.value.dims);
    if (node.attrs.value_float || node.attrs.value_int) return ctx.one([]);
    const list = node.attrs.value_floats ?? node.attrs.value_ints;
    if (list && (list.type === 'floats' || list.type === 'ints')) return ctx.one([list.value.length]);
    throw shapeError(node, 'unsupported Constant form');
  },
  fold(ctx) {
    const { node } = ctx;
    const out0 = ctx.out[0];
    const a = node.attrs.value;
    if (a && a.type === 'tensor') return [constFromTensor(a.value)];
    const f = node.attrs.value_float ?? node.attrs.value_int;
    if (f && (f.type === 'float' || f.type === 'int')) return [{ dtype: out0.dtype, dims: [], v: [f.value] }];
    const l = node.attrs.value_floats ?? node.attrs.value_ints;
    if (l && (l.type === 'floats' || l.type === 'ints')) return [{ dtype: out0.dtype, dims: [l.value.length], v: [...l.value] }];
    return null;
  },
};
