import { attrInt } from '../ir.js';
import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: the upper (or lower) triangle from diagonal k of the last two axes, the rest 0
export const Trilu: OpDef = {
  opType: 'Trilu',
  infer: sameShape,
  fold(ctx) {
    const x = ctx.input(0);
    const upper = attrInt(ctx.node, 'upper', 1);
    const k = ctx.ins[1] ? ctx.ins[1].v[0] : 0;
    const [r, c] = x.dims.slice(-2);
    const v = x.v.map((a, i) => {
      const j = i % (r * c);
      const row = Math.floor(j / c);
      const col = j % c;
      const keep = upper ? col - row >= k : col - row <= k;
      return keep ? a : 0;
    });
    return [{ dtype: x.dtype, dims: x.dims, v }];
  },
};
