/** Model folders the workstation knows: Stable Diffusion and DINOv2 exports, file hashes, provider. */
import { AppError } from '../../shared/errors.js';
import { type Db, now, prepareCached } from '../db.js';

export type ModelKind = 'stable-diffusion' | 'dinov2';

export interface ModelRecord {
  id: number;
  name: string;
  kind: ModelKind;
  folder: string;
  /** File (relative to the folder) -> content hash. */
  hashes: Record<string, string>;
  /** What validation found (shapes, scaling factor, ...). */
  info: Record<string, unknown>;
  /** Execution provider last used with this model. */
  provider: string | null;
  validatedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface ModelRow {
  id: number;
  name: string;
  kind: ModelKind;
  folder: string;
  hashes: string;
  info: string;
  provider: string | null;
  validated_at: number | null;
  created_at: number;
  updated_at: number;
}

function toModel(r: ModelRow): ModelRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    folder: r.folder,
    hashes: JSON.parse(r.hashes) as Record<string, string>,
    info: JSON.parse(r.info) as Record<string, unknown>,
    provider: r.provider,
    validatedAt: r.validated_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class ModelsRepo {
  constructor(private readonly db: Db) {}

  list(): ModelRecord[] {
    return (prepareCached(this.db, 'SELECT * FROM models ORDER BY name').all() as ModelRow[]).map(toModel);
  }

  get(id: number): ModelRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    return r && toModel(r);
  }

  findByFolder(folder: string): ModelRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM models WHERE folder = ?').get(folder) as ModelRow | undefined;
    return r && toModel(r);
  }

  /**
   * Registers a folder, or refreshes what is known about one registered already (by folder): a
   * registered model keeps its name, and `hashes` and `info` are merged key by key into what is
   * stored, so a caller that knows some facts never drops the others. Returns the record.
   */
  upsert(m: { name: string; kind: ModelKind; folder: string; hashes?: Record<string, string>; info?: Record<string, unknown>; validated?: boolean }): ModelRecord {
    const t = now();
    const r = prepareCached(
      this.db,
      `INSERT INTO models (name, kind, folder, hashes, info, validated_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (folder) DO UPDATE SET kind = excluded.kind, hashes = json_patch(models.hashes, excluded.hashes), info = json_patch(models.info, excluded.info),
         validated_at = coalesce(excluded.validated_at, models.validated_at), updated_at = excluded.updated_at
       RETURNING *`,
    ).get(m.name, m.kind, m.folder, JSON.stringify(m.hashes ?? {}), JSON.stringify(m.info ?? {}), m.validated ? t : null, t, t) as ModelRow;
    return toModel(r);
  }

  /**
   * Changes a registered model in place (its id, and so its runs and prompts, stay): what `patch`
   * gives replaces what is stored, `hashes` and `info` whole. Returns the record.
   */
  update(id: number, patch: { name?: string; kind?: ModelKind; folder?: string; hashes?: Record<string, string>; info?: Record<string, unknown>; validated?: boolean }): ModelRecord {
    const t = now();
    const r = prepareCached(
      this.db,
      `UPDATE models SET name = coalesce(?, name), kind = coalesce(?, kind), folder = coalesce(?, folder), hashes = coalesce(?, hashes), info = coalesce(?, info),
         validated_at = coalesce(?, validated_at), updated_at = ?
       WHERE id = ? RETURNING *`,
    ).get(
      patch.name ?? null,
      patch.kind ?? null,
      patch.folder ?? null,
      patch.hashes ? JSON.stringify(patch.hashes) : null,
      patch.info ? JSON.stringify(patch.info) : null,
      patch.validated ? t : null,
      t,
      id,
    ) as ModelRow | undefined;
    if (!r) throw new AppError('NOT_FOUND', `no model with id ${id}`);
    return toModel(r);
  }

  setProvider(id: number, provider: string): void {
    prepareCached(this.db, 'UPDATE models SET provider = ?, updated_at = ? WHERE id = ?').run(provider, now(), id);
  }

  delete(id: number): void {
    prepareCached(this.db, 'DELETE FROM models WHERE id = ?').run(id);
  }
}
