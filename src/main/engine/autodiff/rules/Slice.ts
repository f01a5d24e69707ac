import { sliceParams } from '../../onnx/shape-infer.js';
import type { GradRule } from '../rule.js';

// Unit steps: dX = Pad(dY) with the sliced-away margins as zeros.
// Other steps: dX = ScatterND(zeros, indices of the selected elements, dY).
export const Slice: GradRule = {
  opType: 'Slice',
  opsets: [10, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const xs = ctx.shape(x);
    const g = ctx.GO(0)!;
    const params = sliceParams(ctx.node, xs, ctx.constInput(1)!, ctx.constInput(2)!, ctx.constInput(3), ctx.constInput(4));
    const start = xs.map(() => 0);
    const step = xs.map(() => 1);
    const size = [...xs];
    for (const p of params) {
      start[p.axis] = p.start;
      step[p.axis] = p.step;
      size[p.axis] = p.size;
    }
    if (step.every((s) => s === 1)) {
      const pads = [...start, ...xs.map((d, i) => d - start[i] - size[i])];
      if (pads.every((p) => p === 0)) {
        ctx.GI(0, g);
        return;
      }
      ctx.GI(0, ctx.op1('Pad', [g, ctx.ints(pads)], { mode: 'constant' }));
      return;
    }
    const n = size.reduce((p, q) => p * q, 1);
    const idx: number[] = [];
    const cur = size.map(() => 0);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < xs.length; i++) idx.push(start[i] + cur[i] * step[i]);
      for (let i = xs.length - 1; i >= 0; i--) {
        if (++cur[i] < size[i]) break;
        cur[i] = 0;
      }
    }
    const indices = ctx.b.constant(ctx.prefix, idx, [...size, xs.length], 'int64');
    ctx.GI(0, ctx.op1('ScatterND', [ctx.zeros(xs, ctx.dtype(x)), indices, g]));
  },
};
