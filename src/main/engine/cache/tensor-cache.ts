/**
 * A content-addressed cache of tensors on disk (VAE moments, feature maps, DINOv2 patches):
 * `<dir>/<kind>/<key[0:2]>/<key>.bin` holding a small header and the raw data. Writes are atomic
 * and leave no temporary file when they fail (temp-files.ts; orphans of killed processes are swept
 * when the services open); a damaged entry is treated as a miss and removed. Hit/miss counters
 * feed the benchmarks; an optional index (the store's cache table) hears about every entry for
 * listing and eviction.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type DType, DTYPE_SIZE, bytesOf, typedArrayFromBytes } from '../onnx/dtypes.js';
import { type HostTensor, numel } from '../onnx/ir.js';
import { writeFileAtomic } from './temp-files.js';

const MAGIC = 'SD4T1';

export interface CacheIndex {
  /** `provider`: the execution provider that computed the tensor (absent when not a computation's). */
  record(entry: { key: string; kind: string; path: string; bytes: number; provider?: string }): void;
  touch?(key: string): void;
}

export function cacheKey(...parts: unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

export class TensorCache {
  hits = 0;
  misses = 0;

  constructor(
    readonly dir: string,
    private readonly index?: CacheIndex,
  ) {}

  private file(kind: string, key: string): string {
    return path.join(this.dir, kind, key.slice(0, 2), `${key}.bin`);
  }

  get(kind: string, key: string): HostTensor | null {
    const f = this.file(kind, key);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(f);
    } catch {
      this.misses++;
      return null;
    }
    try {
      const headerLen = buf.readUInt32LE(0);
      const header = JSON.parse(buf.subarray(4, 4 + headerLen).toString('utf8')) as { magic: string; dtype: DType; dims: number[] };
      if (header.magic !== MAGIC) throw new Error('bad magic');
      const count = numel(header.dims);
      const start = 4 + headerLen;
      if (buf.length - start !== count * DTYPE_SIZE[header.dtype]) throw new Error('truncated');
      this.hits++;
      this.index?.touch?.(key);
      return { dtype: header.dtype, dims: header.dims, data: typedArrayFromBytes(header.dtype, new Uint8Array(buf.subarray(start)), count) };
    } catch {
      fs.rmSync(f, { force: true });
      this.misses++;
      return null;
    }
  }

  /** Stores a tensor; `provider` (the execution provider that computed it) goes to the index. */
  put(kind: string, key: string, t: HostTensor, provider?: string): void {
    const f = this.file(kind, key);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const header = Buffer.from(JSON.stringify({ magic: MAGIC, dtype: t.dtype, dims: t.dims }), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length, 0);
    // nothing is left behind when it fails; a full disk is DISK_FULL naming the entry and folder
    writeFileAtomic(f, [len, header, bytesOf(t.data)], `the ${kind} cache entry ${key}`);
    this.index?.record({ key, kind, path: f, bytes: 4 + header.length + t.data.byteLength, ...(provider ? { provider } : {}) });
  }

  /**
   * Cached value, or compute, store and return it. Tensors differ slightly between execution
   * providers: callers put the provider in `key` (see Pipeline) and name it here for the index.
   */
  async getOrCompute(kind: string, key: string, compute: () => Promise<HostTensor>, provider?: string): Promise<HostTensor> {
    const hit = this.get(kind, key);
    if (hit) return hit;
    const v = await compute();
    this.put(kind, key, v, provider);
    return v;
  }

  stats(): { hits: number; misses: number; hitRate: number } {
    const total = this.hits + this.misses;
    return { hits: this.hits, misses: this.misses, hitRate: total ? this.hits / total : 0 };
  }
}
