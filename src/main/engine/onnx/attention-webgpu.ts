/**
 * Fused attention on ONNX Runtime's WebGPU provider: where com.microsoft.MultiHeadAttention is
 * exact there, and a fused form that is exact for every shape.
 *
 * ONNX Runtime 1.30's WebGPU MultiHeadAttention (contrib_ops/webgpu/bert/flash_attention.cc,
 * ApplyFlashAttention) takes one of three kernels:
 *  - head size not a multiple of 4, or value head size ≠ key head size (CanApplyFlashAttention
 *    false): the unfused kernel (attention.cc: the whole [S, T] probabilities, exact);
 *  - `use_split_reduce = parameters.sequence_length_ < 32 || ...`: the split-reduce "decode"
 *    kernels (FlashAttentionDecodeQKV + VxReduce), exact;
 *  - otherwise the prefill kernel FlashAttentionProgram (flash_attention.wgsl.template). On an
 *    adapter with subgroups (not NVIDIA or Apple) it walks the keys in tiles of
 *    `min(subgroup_size, 16)` and accumulates each tile's scores in `var qk_1 : vec4<f32>;` ...
 *    `qk_4` declared inside the tile loop and updated with `+=`. On Dawn's Vulkan backend over
 *    Mesa's lavapipe (subgroup size 8) those accumulators are not zeroed per iteration: each tile's
 *    scores start from the previous tile's normalised probabilities, so every key after the first
 *    tile gets its score raised by the probability of the key 8 places before it. The output equals
 *    a simulation of exactly that (to 1e-7 relative) and drifts from the CPU by 1e-4..3e-1
 *    relative on synthetic inputs, the more the flatter the attention (SD 2-1's sizes, 5 heads x 64:
 *    9216 x 9216 1.8e-4, 9216 queries x 77 keys 8e-3..3e-1; 10 heads x 64, 2304 x 2304
 *    1.7e-3..1.6e-1). One key tile (T ≤ 8 there) is exact.
 * Which drivers zero the accumulators is not something the workstation can ask, so on WebGPU the
 * prefill kernel is treated as inexact whenever it runs over more than one tile of the smallest
 * subgroup size seen (8).
 */
// Types only from attention.ts: attention.ts calls into this file, so no runtime import back.
import type { AttentionCore } from './attention.js';
import type { OpEmitter } from './builder.js';
import { numel } from './ir.js';

/** The execution providers the predicate knows; any other runs the CPU's exact kernels. */
export type AttentionProvider = 'cpu' | 'webgpu' | (string & {});

/** The sizes of an attention core that pick the WebGPU kernel: queries S, keys T, head sizes d (keys) and dv (values). */
export interface FusedAttentionShape {
  S: number;
  T: number;
  d: number;
  dv: number;
}

/** ONNX Runtime's contrib-op domain (attention.ts's MS_DOMAIN). */
const MS_DOMAIN = 'com.microsoft';

/** Fewer query rows than this take the split-reduce kernels (ApplyFlashAttention's `sequence_length_ < 32`). */
export const WEBGPU_PREFILL_MIN_QUERIES = 32;

/** Keys per tile of the prefill kernel on the smallest subgroup size seen (lavapipe: 8); one tile is exact. */
export const WEBGPU_PREFILL_KEY_TILE = 8;

/** Whether ONNX Runtime's WebGPU MultiHeadAttention runs the prefill (FlashAttentionProgram) kernel for this shape. */
export function webgpuRunsPrefillKernel(shape: FusedAttentionShape): boolean {
  return shape.S >= WEBGPU_PREFILL_MIN_QUERIES && shape.d === shape.dv && shape.d % 4 === 0;
}

/**
 * Whether com.microsoft.MultiHeadAttention computes this core exactly (within float32 rounding)
 * on `provider`: always off WebGPU; on WebGPU unless the prefill kernel walks more than one key
 * tile (see the file comment). Where it is false, emit the core as
 * {@link emitWebgpuExactFusedAttention} does, or in standard ops.
 */
export function fusedAttentionIsExact(provider: AttentionProvider, shape: FusedAttentionShape): boolean {
  if (provider !== 'webgpu') return true;
  return !webgpuRunsPrefillKernel(shape) || shape.T <= WEBGPU_PREFILL_KEY_TILE;
}

/** Query rows per MultiHeadAttention call in {@link emitWebgpuExactFusedAttention}: the most that take the split-reduce kernels. */
export const WEBGPU_EXACT_QUERY_BLOCK = WEBGPU_PREFILL_MIN_QUERIES - 1;

/** Concatenates along `axis` in a tree of Concats of at most `fanIn` inputs (WebGPU binds each input as a storage buffer). */
function concatTree(e: OpEmitter, parts: string[], axis: number, fanIn = 8): string {
  let level = parts;
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += fanIn) {
      const group = level.slice(i, i + fanIn);
      next.push(group.length === 1 ? group[0] : e.op1('Concat', group, { axis }));
    }
    level = next;
  }
  return level[0];
}

/**
 * The core through com.microsoft.MultiHeadAttention in calls of at most
 * {@link WEBGPU_EXACT_QUERY_BLOCK} query rows, which ONNX Runtime's WebGPU provider runs with its
 * exact split-reduce kernels (and the CPU with its flash kernel, as for one call). Keys and values
 * are laid out once ([batch, T, heads·d]) and read by every call; the queries are sliced (Slice,
 * not a many-output Split: WebGPU binds each output as a storage buffer) and the outputs
 * concatenated in a tree of small Concats. Nothing of size [S, T] is ever materialised. The same
 * layout as attention.ts's emitFusedAttention otherwise (3-D leading dims: a batch of one-head
 * attentions).
 *
 * Exact for every shape, but the split-reduce kernels are made for a handful of queries: on
 * lavapipe 10 heads x 64 at 2304 x 2304 take 44 s this way, 3.2 s as attention.ts's blocked
 * standard ops and 2.3 s as one (drifting) call; 9216 queries x 77 keys 2.4 s, 1.1 s and 1.1 s.
 * So where {@link fusedAttentionIsExact} is false the blocked form is the better fallback; this
 * form is for when the graph must stay fused (no [rows, T] block at all).
 */
export function emitWebgpuExactFusedAttention(e: OpEmitter, c: AttentionCore, rowsPerCall = WEBGPU_EXACT_QUERY_BLOCK): string {
  const [batch, heads] = c.lead.length === 2 ? c.lead : [numel(c.lead), 1];
  const lead4 = [batch, heads];
  const a = e.reshape(c.a, [...lead4, c.S, c.d]);
  const b = e.reshape(c.b, [...lead4, c.d, c.T]);
  const v = e.reshape(c.v, [...lead4, c.T, c.dv]);
  const q = e.reshape(e.transpose(a, [0, 2, 1, 3]), [batch, c.S, heads * c.d]);
  const k = e.reshape(e.transpose(b, [0, 3, 1, 2]), [batch, c.T, heads * c.d]);
  const vv = e.reshape(e.transpose(v, [0, 2, 1, 3]), [batch, c.T, heads * c.dv]);
  const outs: string[] = [];
  for (let at = 0; at < c.S; at += rowsPerCall) {
    const rows = Math.min(rowsPerCall, c.S - at);
    const qi = rows === c.S ? q : e.op1('Slice', [q, e.ints([at]), e.ints([at + rows]), e.ints([1])]);
    const [o] = e.b.opShaped(e.prefix, 'MultiHeadAttention', [qi, k, vv], { num_heads: heads, scale: c.scale }, [{ dtype: c.dtype, dims: [batch, rows, heads * c.dv] }], MS_DOMAIN);
    outs.push(o);
  }
  const o = concatTree(e, outs, 1);
  const o4 = e.transpose(e.reshape(o, [batch, c.S, heads, c.dv]), [0, 2, 1, 3]);
  return e.reshape(o4, [...c.lead, c.S, c.dv]);
}
