/**
 * Models exported with a static batch size (the dynamo exporter writes [1, 4, 64, 64]) still run
 * larger batches: the batch is cut into chunks of the declared size, each chunk runs on its own,
 * and the results are concatenated (or, for gradients of inputs shared by all chunks, summed).
 */
import { AppError } from '../../shared/errors.js';
import { type HostTensor, type ValueInfo, numel } from '../onnx/ir.js';
import { allocTypedArray } from '../onnx/dtypes.js';

export interface BatchPlan {
  /** Number of chunks (1 = run as is). */
  chunks: number;
  /** Inputs cut along axis 0. */
  split: Set<string>;
  /** Shapes of one chunk's inputs. */
  chunkShapes: Record<string, number[]>;
}

/** Decides how to feed `shapes` to a graph whose inputs are declared as `declared`. */
export function planBatches(declared: ValueInfo[], shapes: Record<string, number[]>): BatchPlan {
  let chunks = 1;
  const split = new Set<string>();
  const chunkShapes: Record<string, number[]> = {};
  for (const input of declared) {
    const s = shapes[input.name];
    if (!s) throw new AppError('INVALID_ARGUMENT', `missing input '${input.name}'`);
    chunkShapes[input.name] = [...s];
    const d = input.shape;
    if (!d) continue;
    if (d.length !== s.length) {
      throw new AppError('SHAPE_ERROR', `input '${input.name}' has rank ${d.length} ([${d.join(', ')}]); got [${s.join(', ')}]`);
    }
    for (let i = 1; i < d.length; i++) {
      if (typeof d[i] === 'number' && d[i] !== s[i]) {
        throw new AppError('SHAPE_ERROR', `input '${input.name}' is declared [${d.join(', ')}]; got [${s.join(', ')}] (dimension ${i} must be ${d[i]})`);
      }
    }
    const d0 = d[0];
    if (d.length > 0 && typeof d0 === 'number' && d0 !== s[0]) {
      if (d0 <= 0 || s[0] % d0 !== 0) {
        throw new AppError('SHAPE_ERROR', `input '${input.name}' is declared with batch ${d0}; a batch of ${s[0]} is not a multiple of it`);
      }
      const k = s[0] / d0;
      if (chunks !== 1 && k !== chunks) {
        throw new AppError('SHAPE_ERROR', `inputs disagree on the batch size (input '${input.name}' would need ${k} chunks, others ${chunks})`);
      }
      chunks = k;
      split.add(input.name);
      chunkShapes[input.name] = [d0, ...s.slice(1)];
    }
  }
  return { chunks, split, chunkShapes };
}

/** Rows [k·n, (k+1)·n) of `t` along axis 0. */
export function sliceBatch(t: HostTensor, k: number, n: number): HostTensor {
  const row = numel(t.dims.slice(1));
  return { dtype: t.dtype, dims: [n, ...t.dims.slice(1)], data: t.data.subarray(k * n * row, (k + 1) * n * row) as HostTensor['data'] };
}

export function concatBatch(parts: HostTensor[]): HostTensor {
  const first = parts[0];
  const rows = parts.reduce((p, t) => p + t.dims[0], 0);
  const data = allocTypedArray(first.dtype, rows * numel(first.dims.slice(1)));
  let offset = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  return { dtype: first.dtype, dims: [rows, ...first.dims.slice(1)], data };
}

export function sumTensors(parts: HostTensor[]): HostTensor {
  const first = parts[0];
  const data = allocTypedArray(first.dtype, first.data.length) as Float32Array;
  for (const p of parts) {
    const src = p.data as Float32Array;
    for (let i = 0; i < data.length; i++) data[i] += src[i];
  }
  return { dtype: first.dtype, dims: [...first.dims], data };
}
