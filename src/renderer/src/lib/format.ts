/** Small formatting helpers shared by the views. */
import type { ExportFormat, ImportFormat } from '../../../main/contract/datasets.js';

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

export function num(n: number): string {
  return n.toLocaleString('en-US');
}

export function seconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '—';
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function when(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms).toLocaleString();
}

/** Every import format by name (the tools' formats too: an import report says which was read). */
export const FORMAT_LABELS = {
  spair: 'SPair-71k',
  pfpascal: 'PF-Pascal',
  pfwillow: 'PF-Willow',
  folder: 'Image folder',
  coco: 'COCO keypoints',
  yolo: 'YOLO pose',
  dlc: 'DeepLabCut',
  labelstudio: 'Label Studio',
  cvat: 'CVAT for images 1.1',
} as const satisfies Record<ImportFormat, string>;

/** The export formats by name, and what each writes (the Export dialog). */
export const EXPORT_FORMAT_LABELS = {
  coco: { label: 'COCO keypoints', writes: 'file' },
  yolo: { label: 'YOLO pose (Ultralytics)', writes: 'folder' },
  dlc: { label: 'DeepLabCut project', writes: 'folder' },
  labelstudio: { label: 'Label Studio (JSON tasks)', writes: 'folder' },
  cvat: { label: 'CVAT for images 1.1 (XML)', writes: 'folder' },
} as const satisfies Record<ExportFormat, { label: string; writes: 'file' | 'folder' }>;

export const SPLIT_LABELS = { trn: 'train', val: 'validation', test: 'test' } as const;

/** The last segments of a path, for tight spaces (the full path goes in a title). */
export function shortPath(p: string, keep = 2): string {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts.length <= keep ? p : `…/${parts.slice(-keep).join('/')}`;
}

/** Decimal gigabytes as the engine's memory messages write them, with a finer step below 0.1 GB. */
export function gigabytes(n: number): string {
  const g = n / 1e9;
  if (g <= 0) return '0 GB';
  if (g >= 10) return `${g.toFixed(0)} GB`;
  if (g >= 0.1) return `${g.toFixed(1)} GB`;
  if (g < 0.01) return '< 0.01 GB';
  return `${g.toFixed(2)} GB`;
}

/**
 * The memory line of an estimate: "Memory: about 8.6 GB of 21 GB free (weights 4.5 GB, activations
 * 3.9 GB)"; when the provider does not report free memory (GPUs), the estimate alone, saying so.
 */
export function memorySummary(m: { bytes: number; weights: number; activations: number; available: number | null }): string {
  const parts = `(weights ${gigabytes(m.weights)}, activations ${gigabytes(m.activations)})`;
  if (m.available === null) return `Memory: about ${gigabytes(m.bytes)} ${parts}; the execution provider does not report its free memory`;
  return `Memory: about ${gigabytes(m.bytes)} of ${gigabytes(m.available)} free ${parts}`;
}
