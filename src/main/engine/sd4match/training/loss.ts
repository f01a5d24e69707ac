/**
 * SD4Match's training loss, the Gaussian-smoothed cross-entropy of the reference, as an ONNX graph
 * over feature maps (so our autodiff differentiates it together with the UNet):
 *   desc = bilinear(F_src, x_src) (align corners, zero padding), L2-normalised (‖·‖ + 1e-6)
 *   P = softmax(desc · normalise(F_trg) / τ) over target cells
 *   for each 7x7 integer offset o around the target keypoint x_trg (feature frame):
 *     s_o = bilinear(P, x_trg + o) (border padding), kept when strictly inside the grid,
 *     weighted by the Gaussian pdf g_o (σ = 1.5)
 *   loss = mean over pairs of -Σ_{points, o} g_o·log s_o / n_points
 * Which cells and weights each sample uses is computed on the host from the keypoints and fed in.
 */
import { ModelBuilder } from '../../onnx/builder.js';
import type { HostTensor, Model } from '../../onnx/ir.js';
import { bilinearCorners, scaleAlignCorners } from '../matching/geometry.js';

export interface LossDims {
  B: number;
  N: number;
  C: number;
  h: number;
  w: number;
  h2: number;
  w2: number;
}

export interface LossSettings {
  temperature: number;
  kernel: number;
  sigma: number;
}

export const DEFAULT_LOSS: LossSettings = { temperature: 0.04, kernel: 7, sigma: 1.5 };

function l2normalize(m: ModelBuilder, x: string, axis: number): string {
  const norm = m.op1('Sqrt', [m.reduceSum(m.mul(x, x), [axis], true)]);
  return m.div(x, m.add(norm, m.scalar(1e-6, x)));
}

/**
 * Adds the loss to a builder whose `src` / `trg` feature tensors already exist (standalone or after
 * a UNet); declares the sampling-plan inputs and returns the scalar loss tensor.
 */
export function emitLoss(m: ModelBuilder, src: string, trg: string, d: LossDims, s: LossSettings): string {
  const K2 = s.kernel * s.kernel;
  const srcIndex = m.input('src_index', 'int64', [d.B, d.N, 4]);
  const srcWeight = m.input('src_weight', 'float32', [d.B, d.N, 4]);
  const probIndex = m.input('prob_index', 'int64', [d.B, d.N, K2, 4]);
  const probWeight = m.input('prob_weight', 'float32', [d.B, d.N, K2, 4]);
  const lossWeight = m.input('loss_weight', 'float32', [d.B, d.N, K2]);
  const hw = d.h * d.w;
  const hw2 = d.h2 * d.w2;
  const rows = m.reshape(m.transpose(m.reshape(src, [d.B, d.C, hw]), [0, 2, 1]), [d.B * hw, d.C]);
  const desc = m.reduceSum(m.mul(m.op1('Gather', [rows, srcIndex], { axis: 0 }), m.op1('Unsqueeze', [srcWeight, m.ints([-1])])), [2], false);
  const corr = m.op1('MatMul', [l2normalize(m, desc, 2), l2normalize(m, m.reshape(trg, [d.B, d.C, hw2]), 1)]);
  const prob = m.op1('Softmax', [m.mul(corr, m.scalar(1 / s.temperature, corr))], { axis: -1 });
  const flat = m.reshape(prob, [d.B * d.N * hw2]);
  const samples = m.reduceSum(m.mul(m.op1('Gather', [flat, probIndex], { axis: 0 }), probWeight), [3], false);
  const total = m.reduceSum(m.mul(lossWeight, m.op1('Log', [samples])), [0, 1, 2], false);
  return m.neg(total);
}

export function buildLossGraph(d: LossDims, s: LossSettings = DEFAULT_LOSS): Model {
  const m = new ModelBuilder('loss', 17);
  const src = m.input('src_features', 'float32', [d.B, d.C, d.h, d.w]);
  const trg = m.input('trg_features', 'float32', [d.B, d.C, d.h2, d.w2]);
  m.output('loss', emitLoss(m, src, trg, d, s));
  return m.build();
}

export interface LossKeypoints {
  /** [B, N, 2] source keypoints, image frame. */
  srcKps: Float32Array;
  /** [B, N, 2] target keypoints, image frame. */
  trgKps: Float32Array;
  nPts: number[];
  N: number;
  srcFrame: { h: number; w: number };
  trgFrame: { h: number; w: number };
}

/** The host-side sampling plans the loss graph takes as inputs. */
export function lossFeeds(k: LossKeypoints, d: LossDims, s: LossSettings = DEFAULT_LOSS): Record<string, HostTensor> {
  const { B, N } = d;
  const K2 = s.kernel * s.kernel;
  const half = Math.floor(s.kernel / 2);
  const hw = d.h * d.w;
  const hw2 = d.h2 * d.w2;
  const srcIndex = new BigInt64Array(B * N * 4);
  const srcWeight = new Float32Array(B * N * 4);
  const probIndex = new BigInt64Array(B * N * K2 * 4);
  const probWeight = new Float32Array(B * N * K2 * 4);
  const lossWeight = new Float32Array(B * N * K2);
  const gauss: number[] = [];
  for (let ky = -half; ky <= half; ky++) {
    for (let kx = -half; kx <= half; kx++) {
      gauss.push((1 / (2 * Math.PI * s.sigma * s.sigma)) * Math.exp(-(kx * kx + ky * ky) / (2 * s.sigma * s.sigma)));
    }
  }
  const clampKp = (v: number, size: number) => Math.min(Math.max(v, 1e-4), size - 1 - 1e-4);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      const p = b * N + n;
      if (n >= k.nPts[b]) {
        // padding rows: a real feature (non-zero norm, no NaN in gradients) and zero loss weight
        srcIndex[4 * p] = BigInt(b * hw);
        srcWeight[4 * p] = 1;
        for (let o = 0; o < K2; o++) {
          probIndex[4 * (p * K2 + o)] = BigInt(p * hw2);
          probWeight[4 * (p * K2 + o)] = 1;
        }
        continue;
      }
      const sx = clampKp(k.srcKps[2 * p], k.srcFrame.w);
      const sy = clampKp(k.srcKps[2 * p + 1], k.srcFrame.h);
      const [fx, fy] = scaleAlignCorners(sx, sy, k.srcFrame, { h: d.h, w: d.w });
      const c = bilinearCorners(fx, fy, d.h, d.w);
      for (let q = 0; q < 4; q++) {
        srcIndex[4 * p + q] = BigInt(b * hw + c.index[q]);
        srcWeight[4 * p + q] = c.weight[q];
      }
      const tx0 = clampKp(k.trgKps[2 * p], k.trgFrame.w);
      const ty0 = clampKp(k.trgKps[2 * p + 1], k.trgFrame.h);
      const [tx, ty] = scaleAlignCorners(tx0, ty0, k.trgFrame, { h: d.h2, w: d.w2 });
      let o = 0;
      for (let ky = -half; ky <= half; ky++) {
        for (let kx = -half; kx <= half; kx++, o++) {
          const x = tx + kx;
          const y = ty + ky;
          const inside = x > 0 && x < d.w2 - 1 && y > 0 && y < d.h2 - 1;
          // border padding: clamp into the grid, then bilinear
          const cx = Math.min(Math.max(x, 0), d.w2 - 1);
          const cy = Math.min(Math.max(y, 0), d.h2 - 1);
          const x0 = Math.floor(cx);
          const y0 = Math.floor(cy);
          const x1 = Math.min(x0 + 1, d.w2 - 1);
          const y1 = Math.min(y0 + 1, d.h2 - 1);
          const ax = cx - x0;
          const ay = cy - y0;
          const cells = [y0 * d.w2 + x0, y0 * d.w2 + x1, y1 * d.w2 + x0, y1 * d.w2 + x1];
          const wts = [(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay];
          const at = 4 * (p * K2 + o);
          for (let q = 0; q < 4; q++) {
            probIndex[at + q] = BigInt(p * hw2 + cells[q]);
            probWeight[at + q] = wts[q];
          }
          lossWeight[p * K2 + o] = inside ? gauss[o] / k.nPts[b] / B : 0;
        }
      }
    }
  }
  return {
    src_index: { dtype: 'int64', dims: [B, N, 4], data: srcIndex },
    src_weight: { dtype: 'float32', dims: [B, N, 4], data: srcWeight },
    prob_index: { dtype: 'int64', dims: [B, N, K2, 4], data: probIndex },
    prob_weight: { dtype: 'float32', dims: [B, N, K2, 4], data: probWeight },
    loss_weight: { dtype: 'float32', dims: [B, N, K2], data: lossWeight },
  };
}
