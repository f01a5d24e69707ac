import { AppError } from '../../../shared/errors.js';
import type { GradRule } from '../rule.js';

// Constant padding: dX = dY[pad_begin : pad_begin + shape(X)] on every padded axis
export const Pad: GradRule = {
  opType: 'Pad',
  opsets: [11, 99],
  kind: 'build',
  build(ctx) {
    const mode = ctx.attrString('mode', 'constant');
    if (mode !== 'constant') {
      throw new AppError('ONNX_UNSUPPORTED', `gradient of Pad mode '${mode}' (node '${ctx.node.name}') is not supported`);
    }
    const xs = ctx.shape(ctx.I(0));
    const pads = ctx.constInput(1);
    if (!pads) throw new AppError('ONNX_UNSUPPORTED', `gradient of Pad node '${ctx.node.name}' needs constant pads`);
    const axesIn = ctx.I(3) ? ctx.constInput(3) : undefined;
    const axes = axesIn ? axesIn.map((a) => (a < 0 ? a + xs.length : a)) : xs.map((_, i) => i);
    if (pads.some((p) => p < 0)) {
      throw new AppError('ONNX_UNSUPPORTED', `gradient of Pad node '${ctx.node.name}' with negative pads is not supported`);
    }
    const begins = axes.map((_, i) => pads[i]);
    ctx.GI(0, ctx.op1('Slice', [ctx.GO(0)!, ctx.ints(begins), ctx.ints(axes.map((a, i) => begins[i] + xs[a])), ctx.ints(axes)]));
  },
};
