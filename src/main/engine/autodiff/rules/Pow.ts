import { dtypeCode } from '../../onnx/dtypes.js';
import type { GradRule } from '../rule.js';

// dA = unbroadcast(dY · B · A^(B-1)), dB = unbroadcast(dY · Y · log A)
export const Pow: GradRule = {
  opType: 'Pow',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    const a = ctx.I(0);
    const b = ctx.I(1);
    if (ctx.needs(0)) {
      const exp = ctx.constInput(1);
      let t: string;
      if (exp && exp.length === 1 && exp[0] === 2) {
        t = ctx.mul(g, ctx.mul(a, ctx.scalar(2, a))); // the common square: 2A, exact and cheap
      } else {
        const bf = ctx.dtype(b) === ctx.dtype(a) ? b : ctx.op1('Cast', [b], { to: dtypeCode(ctx.dtype(a)) });
        const pm1 = ctx.op1('Pow', [a, ctx.sub(bf, ctx.scalar(1, a))]);
        t = ctx.mul(g, ctx.mul(bf, pm1));
      }
      ctx.GI(0, ctx.unbroadcast(t, ctx.shape(a)));
    }
    if (ctx.needs(1)) {
      const t = ctx.mul(ctx.mul(g, ctx.O(0)), ctx.op1('Log', [a]));
      ctx.GI(1, ctx.unbroadcast(t, ctx.shape(b)));
    }
  },
};
