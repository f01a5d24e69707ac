import { dtypeFromCode } from '../dtypes.js';
import { attrInt } from '../ir.js';
import { sameShape } from './families.js';
import { castValue } from './fold-helpers.js';
import type { OpDef } from './op.js';

// shape: Y = X (of type `to`); fold: each value rounded to `to`'s value set
export const Cast: OpDef = {
  opType: 'Cast',
  infer: sameShape,
  fold(ctx) {
    const x = ctx.input(0);
    const to = dtypeFromCode(attrInt(ctx.node, 'to'))!;
    return [{ dtype: to, dims: x.dims, v: x.v.map((a) => castValue(a, to)) }];
  },
};
