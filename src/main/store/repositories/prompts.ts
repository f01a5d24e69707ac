/**
 * Prompts: learned prompt rows (Single, per-Class), CPM parameters, and baselines, with their
 * parameters as raw tensors and where they came from (run, step, model, dataset).
 */
import { AppError } from '../../shared/errors.js';
import { type Db, now, prepareCached } from '../db.js';

export type PromptKind = 'single' | 'class' | 'cpm' | 'baseline';
export type TensorDType = 'float32' | 'float64' | 'int32' | 'int64';

export interface StoredTensor {
  dtype: TensorDType;
  dims: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array;
}

export interface PromptRecord {
  id: number;
  name: string;
  kind: PromptKind;
  modelId: number | null;
  datasetId: number | null;
  runId: number | null;
  step: number | null;
  config: Record<string, unknown>;
  provenance: Record<string, unknown>;
  createdAt: number;
}

interface PromptRow {
  id: number;
  name: string;
  kind: PromptKind;
  model_id: number | null;
  dataset_id: number | null;
  run_id: number | null;
  step: number | null;
  config: string;
  provenance: string;
  created_at: number;
}

const BYTES: Record<TensorDType, number> = { float32: 4, float64: 8, int32: 4, int64: 8 };

function toPrompt(r: PromptRow): PromptRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    modelId: r.model_id,
    datasetId: r.dataset_id,
    runId: r.run_id,
    step: r.step,
    config: JSON.parse(r.config) as Record<string, unknown>,
    provenance: JSON.parse(r.provenance) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

/** Little-endian bytes of a tensor (a copy). */
function tensorBytes(t: StoredTensor): Buffer {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new AppError('INVALID_ARGUMENT', `tensor data has ${t.data.length} elements but dims [${t.dims.join(', ')}] need ${n}`);
  const buf = Buffer.allocUnsafe(n * BYTES[t.dtype]);
  for (let i = 0; i < n; i++) {
    const v = t.data[i]!;
    if (t.dtype === 'float32') buf.writeFloatLE(v as number, i * 4);
    else if (t.dtype === 'float64') buf.writeDoubleLE(v as number, i * 8);
    else if (t.dtype === 'int32') buf.writeInt32LE(v as number, i * 4);
    else buf.writeBigInt64LE(v as bigint, i * 8);
  }
  return buf;
}

function tensorFromBytes(dtype: TensorDType, dims: number[], buf: Buffer): StoredTensor {
  const n = buf.length / BYTES[dtype];
  const copy = new Uint8Array(buf).buffer; // aligned copy
  const view = new DataView(copy);
  if (dtype === 'float32') return { dtype, dims, data: Float32Array.from({ length: n }, (_, i) => view.getFloat32(i * 4, true)) };
  if (dtype === 'float64') return { dtype, dims, data: Float64Array.from({ length: n }, (_, i) => view.getFloat64(i * 8, true)) };
  if (dtype === 'int32') return { dtype, dims, data: Int32Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true)) };
  return { dtype, dims, data: BigInt64Array.from({ length: n }, (_, i) => view.getBigInt64(i * 8, true)) };
}

export class PromptsRepo {
  constructor(private readonly db: Db) {}

  list(filter: { kind?: PromptKind; datasetId?: number } = {}): PromptRecord[] {
    const rows = prepareCached(this.db, 'SELECT * FROM prompts WHERE (@kind IS NULL OR kind = @kind) AND (@dataset IS NULL OR dataset_id = @dataset) ORDER BY created_at DESC, id DESC').all({
      kind: filter.kind ?? null,
      dataset: filter.datasetId ?? null,
    }) as PromptRow[];
    return rows.map(toPrompt);
  }

  get(id: number): PromptRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM prompts WHERE id = ?').get(id) as PromptRow | undefined;
    return r && toPrompt(r);
  }

  /** Stores a prompt and its parameter tensors; returns the new record. */
  create(p: {
    name: string;
    kind: PromptKind;
    modelId?: number | null;
    datasetId?: number | null;
    runId?: number | null;
    step?: number | null;
    config?: Record<string, unknown>;
    provenance?: Record<string, unknown>;
    tensors?: Record<string, StoredTensor>;
  }): PromptRecord {
    const r = prepareCached(this.db, 'INSERT INTO prompts (name, kind, model_id, dataset_id, run_id, step, config, provenance, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *').get(
      p.name,
      p.kind,
      p.modelId ?? null,
      p.datasetId ?? null,
      p.runId ?? null,
      p.step ?? null,
      JSON.stringify(p.config ?? {}),
      JSON.stringify(p.provenance ?? {}),
      now(),
    ) as PromptRow;
    for (const [name, t] of Object.entries(p.tensors ?? {})) this.putTensor(r.id, name, t);
    return toPrompt(r);
  }

  putTensor(promptId: number, name: string, t: StoredTensor): void {
    prepareCached(this.db, 'INSERT OR REPLACE INTO prompt_tensors (prompt_id, name, dtype, dims, data) VALUES (?, ?, ?, ?, ?)').run(promptId, name, t.dtype, JSON.stringify(t.dims), tensorBytes(t));
  }

  tensors(promptId: number): Record<string, StoredTensor> {
    const rows = prepareCached(this.db, 'SELECT name, dtype, dims, data FROM prompt_tensors WHERE prompt_id = ? ORDER BY name').all(promptId) as {
      name: string;
      dtype: TensorDType;
      dims: string;
      data: Buffer;
    }[];
    return Object.fromEntries(rows.map((r) => [r.name, tensorFromBytes(r.dtype, JSON.parse(r.dims) as number[], r.data)]));
  }

  delete(id: number): void {
    prepareCached(this.db, 'DELETE FROM prompts WHERE id = ?').run(id);
  }
}
