import { attrInts } from '../ir.js';
import { gatherStrided } from './fold-helpers.js';
import type { OpDef } from './op.js';
import { sliceParams } from './shape-helpers.js';

// shape: per sliced axis ⌈(end - start) / step⌉ after ONNX's clamping; fold: the strided window
export const Slice: OpDef = {
  opType: 'Slice',
  infer(ctx) {
    const { node } = ctx;
    const xd = ctx.need(0).dims;
    let starts: number[];
    let ends: number[];
    let axes: number[] | undefined;
    let steps: number[] | undefined;
    if (ctx.opset >= 10) {
      starts = ctx.constInts(1, 'starts')!;
      ends = ctx.constInts(2, 'ends')!;
      axes = ctx.constInts(3, 'axes');
      steps = ctx.constInts(4, 'steps');
    } else {
      starts = attrInts(node, 'starts');
      ends = attrInts(node, 'ends');
      axes = node.attrs.axes ? attrInts(node, 'axes') : undefined;
    }
    const out = [...xd];
    for (const p of sliceParams(node, xd, starts, ends, axes, steps)) out[p.axis] = p.size;
    return ctx.one(out);
  },
  fold(ctx) {
    const x = ctx.input(0);
    const params = sliceParams(ctx.node, x.dims, ctx.input(1).v, ctx.input(2).v, ctx.ins[3]?.v, ctx.ins[4]?.v);
    const start = x.dims.map(() => 0);
    const step = x.dims.map(() => 1);
    for (const p of params) {
      start[p.axis] = p.start;
      step[p.axis] = p.step;
    }
    return [gatherStrided(x, ctx.out[0].dims, start, step)];
  },
};
