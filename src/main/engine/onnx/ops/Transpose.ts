import { attrInts, type Node, numel } from '../ir.js';
import { strides } from './fold-helpers.js';
import type { OpDef } from './op.js';

function permOf(node: Node, rank: number): number[] {
  return node.attrs.perm ? attrInts(node, 'perm') : Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

// shape: Y[k] = X[perm[k]] (default: reversed); fold: the values moved likewise
export const Transpose: OpDef = {
  opType: 'Transpose',
  infer(ctx) {
    const xd = ctx.need(0).dims;
    const perm = permOf(ctx.node, xd.length);
    return ctx.one(perm.map((p) => xd[p]));
  },
  fold(ctx) {
    const x = ctx.input(0);
    const perm = permOf(ctx.node, x.dims.length);
    const inStr = strides(x.dims);
    const outDims = ctx.out[0].dims;
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
      v[i] = x.v[src];
    }
    return [{ dtype: x.dtype, dims: outDims, v }];
  },
};
