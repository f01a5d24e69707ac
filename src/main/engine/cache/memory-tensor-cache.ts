/**
 * A tensor cache that keeps the most recently used tensors in memory, up to a byte budget, in front
 * of the disk cache (tensor-cache.ts): a warm process that reads the same feature maps again and
 * again (Annotate's suggestion host: the exemplars' maps for every image, the next image's map
 * computed ahead) then neither reads nor decodes them from disk. It also counts what it had to
 * compute per kind, so callers can tell whether a request needed a feature pass.
 */
import type { HostTensor } from '../onnx/ir.js';
import { TensorCache } from './tensor-cache.js';

export class MemoryTensorCache extends TensorCache {
  private readonly held = new Map<string, { t: HostTensor; bytes: number }>();
  private heldBytes = 0;
  /** Computations (cache misses that ran their computation), by kind. */
  readonly computed: Record<string, number> = {};
  /** Bytes of the largest tensor seen per kind (a feature map's size, once one was read or computed). */
  readonly largest: Record<string, number> = {};

  constructor(
    private readonly disk: TensorCache,
    /** At most this many bytes of tensors stay in memory (least recently used leave first). */
    readonly budgetBytes: number,
  ) {
    super(disk.dir);
  }

  /** Bytes held in memory now. */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  override get(kind: string, key: string): HostTensor | null {
    const id = `${kind}/${key}`;
    const m = this.held.get(id);
    if (m) {
      // most recently used last
      this.held.delete(id);
      this.held.set(id, m);
      this.hits++;
      return m.t;
    }
    const t = this.disk.get(kind, key);
    if (t) {
      this.hits++;
      this.remember(id, kind, t);
    } else {
      this.misses++;
    }
    return t;
  }

  override put(kind: string, key: string, t: HostTensor, provider?: string): void {
    this.disk.put(kind, key, t, provider);
    this.remember(`${kind}/${key}`, kind, t);
  }

  override async getOrCompute(kind: string, key: string, compute: () => Promise<HostTensor>, provider?: string): Promise<HostTensor> {
    return super.getOrCompute(
      kind,
      key,
      () => {
        this.computed[kind] = (this.computed[kind] ?? 0) + 1;
        return compute();
      },
      provider,
    );
  }

  /** Forgets every tensor held in memory (the disk cache keeps them). */
  clear(): void {
    this.held.clear();
    this.heldBytes = 0;
  }

  private remember(id: string, kind: string, t: HostTensor): void {
    const bytes = t.data.byteLength;
    this.largest[kind] = Math.max(this.largest[kind] ?? 0, bytes);
    if (bytes > this.budgetBytes) return;
    const old = this.held.get(id);
    if (old) {
      this.held.delete(id);
      this.heldBytes -= old.bytes;
    }
    this.held.set(id, { t, bytes });
    this.heldBytes += bytes;
    for (const [k, v] of this.held) {
      if (this.heldBytes <= this.budgetBytes) break;
      this.held.delete(k);
      this.heldBytes -= v.bytes;
    }
  }
}
