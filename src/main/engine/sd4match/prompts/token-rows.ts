/**
 * Row arithmetic on prompt token embeddings [P, CONTEXT_LENGTH, D] (P prompts of 77 rows each):
 * the learnable rows of a prompt, a prompt with its learnable rows replaced, and the batch-axis
 * repeats and padding the step graph's fixed shapes need.
 */
import type { HostTensor } from '../../onnx/ir.js';

/** Rows [start, end) of a [P, 77, D] tensor along axis 1. */
export function rows(t: HostTensor, start: number, end: number): HostTensor {
  const [P, L, D] = t.dims;
  const out = new Float32Array(P * (end - start) * D);
  const src = t.data as Float32Array;
  for (let p = 0; p < P; p++) out.set(src.subarray((p * L + start) * D, (p * L + end) * D), p * (end - start) * D);
  return { dtype: 'float32', dims: [P, end - start, D], data: out };
}

/** `base` [P, 77, D] with rows [start, start + r.rows) replaced by `r` ([1 | P, rows, D]; one set of rows is shared). */
export function withRows(base: HostTensor, start: number, r: HostTensor): HostTensor {
  const [P, L, D] = base.dims;
  const out = new Float32Array(base.data as Float32Array);
  const n = r.dims[1];
  for (let p = 0; p < P; p++) out.set((r.data as Float32Array).subarray((r.dims[0] === 1 ? 0 : p) * n * D, ((r.dims[0] === 1 ? 0 : p) + 1) * n * D), (p * L + start) * D);
  return { dtype: 'float32', dims: [P, L, D], data: out };
}

/** Repeats a [1, 77, D] tensor n times along the batch axis. */
export function repeatBatch(t: HostTensor, n: number): HostTensor {
  const out = new Float32Array(t.data.length * n);
  for (let i = 0; i < n; i++) out.set(t.data as Float32Array, i * t.data.length);
  return { dtype: 'float32', dims: [n, ...t.dims.slice(1)], data: out };
}

/**
 * Token embeddings [p, 77, D] padded to the step graph's P prompts by repeating the last one:
 * no image indexes the padding prompts, so their gradient is zero.
 */
export function padPrompts(tokens: HostTensor, P: number): HostTensor {
  const [p, L, D] = tokens.dims;
  if (p === P) return tokens;
  const data = new Float32Array(P * L * D);
  data.set(tokens.data as Float32Array);
  for (let i = p; i < P; i++) data.set((tokens.data as Float32Array).subarray((p - 1) * L * D, p * L * D), i * L * D);
  return { dtype: 'float32', dims: [P, L, D], data };
}
