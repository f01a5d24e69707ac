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
// No import of attention.ts: it calls into this file.

/** The execution providers the predicate knows; any other runs the CPU's exact kernels. */
export type AttentionProvider = 'cpu' | 'webgpu' | (string & {});

/** The sizes of an attention core that pick the WebGPU kernel: queries S, keys T, head sizes d (keys) and dv (values). */
export interface FusedAttentionShape {
  S: number;
  T: number;
  d: number;
  dv: number;
}

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
 * tile (see the file comment). Where it is false, emit the core in standard ops (attention.ts's
 * blocked form), or fused in calls of at most {@link WEBGPU_EXACT_QUERY_BLOCK} query rows.
 */
export function fusedAttentionIsExact(provider: AttentionProvider, shape: FusedAttentionShape): boolean {
  if (provider !== 'webgpu') return true;
  return !webgpuRunsPrefillKernel(shape) || shape.T <= WEBGPU_PREFILL_KEY_TILE;
}

/**
 * Query rows per MultiHeadAttention call for a fused form exact on WebGPU (attention.ts's
 * emitFusedAttention with `rowsPerCall`): the most that take the split-reduce kernels. Exact for
 * every shape, but those kernels are made for a handful of queries: on lavapipe 10 heads x 64 at
 * 2304 x 2304 take 44 s this way, 3.2 s as blocked standard ops and 2.3 s as one (drifting) call;
 * 9216 queries x 77 keys 2.4 s, 1.1 s and 1.1 s. So the workstation falls back to the blocked
 * form; this one is for a graph that must stay fused (no [rows, T] block at all).
 */
export const WEBGPU_EXACT_QUERY_BLOCK = WEBGPU_PREFILL_MIN_QUERIES - 1;
