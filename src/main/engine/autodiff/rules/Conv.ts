import { AppError } from '../../../shared/errors.js';
import type { RuleContext } from '../context.js';
import type { GradRule } from '../rule.js';

/** Explicit begin/end pads for the node's concrete shapes (auto_pad resolved). */
export function convPads(ctx: RuleContext, inSp: number[], outSp: number[], k: number[], s: number[], d: number[]): number[] {
  const n = inSp.length;
  const autoPad = ctx.attrString('auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return Array(2 * n).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      const total = Math.max((outSp[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inSp[i], 0);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
    return [...begin, ...end];
  }
  return ctx.attrInts('pads', Array(2 * n).fill(0));
}

/**
 * Conv(x, w) with explicit `pads` (no auto_pad), in a form every provider computes right. ONNX
 * Runtime's WebGPU Conv (1.30, core/providers/webgpu/nn/conv.cc) treats a kernel as large as the
 * input as one MatMul when the begin pads are 0 (`same_size = is_channels_last && input_height ==
 * kernel_height && input_width == kernel_width && pads[0] == 0 && pads[1] == 0`): it ignores the
 * end pads, so a larger output (e.g. the weight gradient of a SAME_UPPER conv with an even kernel:
 * kernel dYᵀ as large as Xᵀ, pads [0, 0, 1, 1]) comes out wrong. There the end pads go into an
 * explicit Pad of x first (the same numbers on every provider; the padded copy is only made in
 * that case).
 */
export function convExplicitPads(ctx: RuleContext, x: string, w: string, pads: number[], attrs: { strides?: number[]; dilations?: number[]; kernel_shape: number[] }): string {
  const n = attrs.kernel_shape.length;
  const xs = ctx.shape(x).slice(2);
  const wholeInput = attrs.kernel_shape.every((k, i) => k === xs[i]) && pads.slice(0, n).every((p) => p === 0) && pads.slice(n).some((p) => p > 0);
  if (!wholeInput) return ctx.op1('Conv', [x, w], { ...attrs, pads });
  const padded = ctx.op1('Pad', [x, ctx.ints([0, 0, ...pads.slice(0, n), 0, 0, ...pads.slice(n)])], { mode: 'constant' });
  return ctx.op1('Conv', [padded, w], { ...attrs, pads: Array(2 * n).fill(0) });
}

// dX = ConvTranspose(dY, W) with the forward strides, pads, dilations and group (output_padding
// chosen so the result has X's size); for stride 1, dilation 1, group 1 (most convs of a UNet),
// dX = Conv(dY, W') with W' the kernel with in/out channels swapped and spatially flipped and pads
// k-1-p: the same numbers, and ONNX Runtime's Conv runs about 1.7x faster than its ConvTranspose
// (SD 2-1's 3x3 convs at 48² x 1280 and 96² x 320). W' is computed from W in the graph (a Transpose
// and a permutation MatMul): sessions that disable constant folding compute it per run (about 2%
// of the conv) instead of keeping a flipped copy of every weight.
// dW = Conv(Xᵀ, dYᵀ) with strides and dilations swapped (group 1); dB = Σ dY over batch and space.
export const Conv: GradRule = {
  opType: 'Conv',
  opsets: [11, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    const x = ctx.I(0);
    const w = ctx.I(1);
    const xs = ctx.shape(x);
    const ws = ctx.shape(w);
    const ys = ctx.shape(g);
    const nsp = xs.length - 2;
    const k = ws.slice(2);
    const s = ctx.attrInts('strides', Array(nsp).fill(1));
    const d = ctx.attrInts('dilations', Array(nsp).fill(1));
    const group = ctx.attrInt('group', 1);
    const pads = convPads(ctx, xs.slice(2), ys.slice(2), k, s, d);
    const flippable = group === 1 && s.every((v) => v === 1) && d.every((v) => v === 1) && k.every((v, i) => pads[i] <= v - 1 && pads[i + nsp] <= v - 1);
    if (ctx.needs(0) && flippable) {
      const kn = k.reduce((p, q) => p * q, 1);
      const reversal = ctx.floats(
        Array.from({ length: kn * kn }, (_, i) => (Math.floor(i / kn) + (i % kn) === kn - 1 ? 1 : 0)),
        [kn, kn],
        ctx.dtype(w),
      );
      const swapped = ctx.transpose(w, [1, 0, ...Array.from({ length: nsp }, (_, i) => i + 2)]);
      const flipped = ctx.reshape(ctx.op1('MatMul', [ctx.reshape(swapped, [ws[1] * ws[0], kn]), reversal]), [ws[1], ws[0], ...k]);
      const backPads = [...k.map((v, i) => v - 1 - pads[i]), ...k.map((v, i) => v - 1 - pads[i + nsp])];
      ctx.GI(0, convExplicitPads(ctx, g, flipped, backPads, { kernel_shape: k }));
    } else if (ctx.needs(0)) {
      const outputPadding = xs.slice(2).map((sz, i) => sz - (s[i] * (ys[i + 2] - 1) + (k[i] - 1) * d[i] + 1 - pads[i] - pads[i + nsp]));
      const dx = ctx.op1('ConvTranspose', [g, w], {
        strides: s,
        pads,
        dilations: d,
        group,
        kernel_shape: k,
        output_padding: outputPadding,
      });
      ctx.GI(0, dx);
    }
    if (ctx.needs(1)) {
      if (group !== 1) {
        throw new AppError('ONNX_UNSUPPORTED', `weight gradient of grouped Conv (node '${ctx.node.name}', group ${group}) is not supported`);
      }
      const perm = [1, 0, ...Array.from({ length: nsp }, (_, i) => i + 2)];
      const xt = ctx.transpose(x, perm);
      const gt = ctx.transpose(g, perm);
      const full = convExplicitPads(ctx, xt, gt, pads, { strides: d, dilations: s, kernel_shape: ys.slice(2) });
      const fs = ctx.shape(full);
      let dw = full;
      if (fs.slice(2).some((v, i) => v !== k[i])) {
        dw = ctx.op1('Slice', [full, ctx.ints(k.map(() => 0)), ctx.ints(k), ctx.ints(k.map((_, i) => i + 2))]);
      }
      ctx.GI(1, ctx.transpose(dw, perm));
    }
    if (ctx.I(2) && ctx.needs(2)) {
      ctx.GI(2, ctx.reduceSum(g, [0, ...Array.from({ length: nsp }, (_, i) => i + 2)], false));
    }
  },
};
