/**
 * SD4Match's conditional prompting module (CPM), as one ONNX graph whose parameters are graph
 * inputs (so the same graph yields their gradients through our autodiff):
 *   feat = [DINO(src) | DINO(trg)] on the feature axis            [B, 256, 2·Dd]
 *   x = g_n(g_d(feat)ᵀ)ᵀ   (linear over features, then over patches) [B, 256, D]
 *   pooled = adaptive max pool over patches to 50 bins              [B, 50, D]
 *   cond = tanh(α) · (pos + pooled)
 *   tokens = [SOS, global (25), cond (50), EOS]                     [B, 77, D]
 * The 50 conditional rows are what the text encoder's 77 positions leave after SOS, EOS and the
 * 25 global rows (CONTEXT_LENGTH); a layout that does not fill them is refused.
 * Adaptive pooling bins: bin i covers ⌊i·L/n⌋ .. ⌈(i+1)·L/n⌉ - 1, as PyTorch's AdaptiveMaxPool1d.
 */
import { AppError } from '../../../shared/errors.js';
import { ModelBuilder } from '../../onnx/builder.js';
import type { Model } from '../../onnx/ir.js';
import { CONTEXT_LENGTH } from '../model/tokenizer.js';

export const CPM_PARAMS = ['global_embeds', 'positional_embedding', 'alpha_cond', 'linear_C_weight', 'linear_C_bias', 'linear_N_weight', 'linear_N_bias'] as const;
export type CpmParam = (typeof CPM_PARAMS)[number];

export interface CpmDims {
  B: number;
  /** DINOv2 width (768 for ViT-B/14). */
  dino: number;
  /** Text encoder width. */
  hidden: number;
  patches: number;
  nGlobal: number;
  nCond: number;
}

const N_GLOBAL = 25;

/** The paper's CPM: 256 DINOv2 patches, 25 global rows, and conditional rows for the rest of the context (50). */
export const CPM_DEFAULTS = { patches: 256, nGlobal: N_GLOBAL, nCond: CONTEXT_LENGTH - 2 - N_GLOBAL };

/** Position of the EOS row in CPM's prompt [SOS, global, cond, EOS]; throws unless the prompt fills the context. */
export function cpmEosPosition(d: Pick<CpmDims, 'nGlobal' | 'nCond'>): number {
  const eos = 1 + d.nGlobal + d.nCond;
  if (eos !== CONTEXT_LENGTH - 1) {
    throw new AppError('INVALID_ARGUMENT', `a CPM prompt of SOS, ${d.nGlobal} global and ${d.nCond} conditional rows and EOS is ${eos + 1} rows; the text encoder takes ${CONTEXT_LENGTH}`);
  }
  return eos;
}

/** Parameter shapes for given dims. */
export function cpmParamShapes(d: CpmDims): Record<CpmParam, number[]> {
  return {
    global_embeds: [1, d.nGlobal, d.hidden],
    positional_embedding: [1, d.nCond, d.hidden],
    alpha_cond: [1, d.nCond, d.hidden],
    linear_C_weight: [d.hidden, 2 * d.dino],
    linear_C_bias: [d.hidden],
    linear_N_weight: [d.patches, d.patches],
    linear_N_bias: [d.patches],
  };
}

/** Bins of PyTorch's adaptive max pooling from `length` to `bins`, padded by repeating the last index. */
export function adaptiveBins(length: number, bins: number): { index: number[]; width: number } {
  const ranges: number[][] = [];
  for (let i = 0; i < bins; i++) {
    const start = Math.floor((i * length) / bins);
    const end = Math.ceil(((i + 1) * length) / bins);
    ranges.push(Array.from({ length: end - start }, (_, k) => start + k));
  }
  const width = Math.max(...ranges.map((r) => r.length));
  return { index: ranges.flatMap((r) => [...r, ...Array(width - r.length).fill(r[r.length - 1])]), width };
}

/** The CPM graph for dims `d`: patches and parameters in, `token_embeds` [B, 77, D] and `cond_embeds` out. */
export function buildCpmGraph(d: CpmDims, opset = 17): Model {
  cpmEosPosition(d);
  const m = new ModelBuilder('cpm', opset);
  const src = m.input('src_patches', 'float32', [d.B, d.patches, d.dino]);
  const trg = m.input('trg_patches', 'float32', [d.B, d.patches, d.dino]);
  const shapes = cpmParamShapes(d);
  const p = Object.fromEntries(CPM_PARAMS.map((k) => [k, m.input(k, 'float32', shapes[k])])) as Record<CpmParam, string>;
  const sosEos = m.input('sos_eos_embeds', 'float32', [1, 2, d.hidden]);
  const feat = m.op1('Concat', [src, trg], { axis: 2 });
  const x = m.add(m.op1('MatMul', [feat, m.transpose(p.linear_C_weight, [1, 0])]), p.linear_C_bias);
  const xt = m.transpose(x, [0, 2, 1]);
  const y = m.add(m.op1('MatMul', [xt, m.transpose(p.linear_N_weight, [1, 0])]), p.linear_N_bias);
  const x2 = m.transpose(y, [0, 2, 1]);
  const bins = adaptiveBins(d.patches, d.nCond);
  const idx = m.b.constant(m.prefix, bins.index, [d.nCond, bins.width], 'int64');
  const pooled = m.op1('ReduceMax', [m.op1('Gather', [x2, idx], { axis: 1 })], { axes: [2], keepdims: 0 });
  const cond = m.mul(m.op1('Tanh', [p.alpha_cond]), m.add(p.positional_embedding, pooled));
  const sos = m.expand(m.op1('Slice', [sosEos, m.ints([0]), m.ints([1]), m.ints([1])]), [d.B, 1, d.hidden]);
  const eos = m.expand(m.op1('Slice', [sosEos, m.ints([1]), m.ints([2]), m.ints([1])]), [d.B, 1, d.hidden]);
  const glob = m.expand(p.global_embeds, [d.B, d.nGlobal, d.hidden]);
  const tokens = m.op1('Concat', [sos, glob, cond, eos], { axis: 1 });
  m.output('token_embeds', tokens);
  m.output('cond_embeds', cond);
  return m.build();
}
