import { AppError } from '../../../shared/errors.js';
import type { RuleContext } from '../context.js';
import type { GradRule } from '../rule.js';

/** Source index of each output index along one axis for nearest-neighbour Resize. */
export function nearestIndices(ctx: RuleContext, inLen: number, outLen: number, scale: number): number[] {
  const ctm = ctx.attrString('coordinate_transformation_mode', 'half_pixel');
  const nm = ctx.attrString('nearest_mode', 'round_prefer_floor');
  const out: number[] = [];
  for (let o = 0; o < outLen; o++) {
    let x: number;
    switch (ctm) {
      case 'asymmetric':
        x = o / scale;
        break;
      case 'align_corners':
        x = outLen === 1 ? 0 : (o * (inLen - 1)) / (outLen - 1);
        break;
      case 'pytorch_half_pixel':
        x = outLen > 1 ? (o + 0.5) / scale - 0.5 : 0;
        break;
      case 'tf_half_pixel_for_nn':
        x = (o + 0.5) / scale;
        break;
      case 'half_pixel':
        x = (o + 0.5) / scale - 0.5;
        break;
      default:
        throw new AppError('ONNX_UNSUPPORTED', `Resize gradient: coordinate_transformation_mode '${ctm}' (node '${ctx.node.name}') is not supported`);
    }
    let i: number;
    if (nm === 'floor') i = Math.floor(x);
    else if (nm === 'ceil') i = Math.ceil(x);
    else if (nm === 'round_prefer_ceil') i = Math.floor(x) + (x - Math.floor(x) >= 0.5 ? 1 : 0);
    else i = Math.floor(x) + (x - Math.floor(x) > 0.5 ? 1 : 0);
    out.push(Math.min(Math.max(i, 0), inLen - 1));
  }
  return out;
}

// Nearest Resize copies input pixels; dX sums dY over the output pixels each input pixel fed.
// Integer upsampling with floor mapping: reshape dY to [N, C, H, s, W, s] and sum the s axes.
// Otherwise per spatial axis a 0/1 matrix R (out × in): dX = R_hᵀ · dY · R_w.
export const Resize: GradRule = {
  opType: 'Resize',
  opsets: [11, 99],
  kind: 'build',
  build(ctx) {
    const mode = ctx.attrString('mode', 'nearest');
    if (mode !== 'nearest') {
      throw new AppError('ONNX_UNSUPPORTED', `gradient of Resize mode '${mode}' (node '${ctx.node.name}') is not supported`);
    }
    const g = ctx.GO(0)!;
    const xs = ctx.shape(ctx.I(0));
    const ys = ctx.shape(g);
    const scalesIn = ctx.constInput(2);
    const scales = xs.map((d, i) => (scalesIn && scalesIn.length === xs.length ? scalesIn[i] : ys[i] / d));
    const maps = xs.map((d, i) => nearestIndices(ctx, d, ys[i], scales[i]));
    const identity = (i: number) => xs[i] === ys[i] && maps[i].every((v, k) => v === k);
    const integerFloor = (i: number) => {
      const f = ys[i] / xs[i];
      return Number.isInteger(f) && maps[i].every((v, k) => v === Math.floor(k / f));
    };
    if (xs.every((_, i) => identity(i) || integerFloor(i))) {
      const dims: number[] = [];
      const sumAxes: number[] = [];
      xs.forEach((d, i) => {
        dims.push(d);
        const f = ys[i] / d;
        if (f > 1) {
          dims.push(f);
          sumAxes.push(dims.length - 1);
        }
      });
      ctx.GI(0, ctx.reshape(ctx.reduceSum(ctx.reshape(g, dims), sumAxes, false), xs));
      return;
    }
    if (xs.length !== 4 || !identity(0) || !identity(1)) {
      throw new AppError('ONNX_UNSUPPORTED', `gradient of Resize node '${ctx.node.name}' (rank ${xs.length}, resizing batch or channel axes) is not supported`);
    }
    const onehot = (axis: number) => {
      const v = new Array<number>(ys[axis] * xs[axis]).fill(0);
      maps[axis].forEach((src, o) => (v[o * xs[axis] + src] = 1));
      return ctx.floats(v, [ys[axis], xs[axis]], ctx.dtype(g));
    };
    const rh = onehot(2);
    const rw = onehot(3);
    const rhT = ctx.transpose(rh, [1, 0]);
    const t = ctx.op1('MatMul', [rhT, g]);
    ctx.GI(0, ctx.op1('MatMul', [t, rw]));
  },
};
