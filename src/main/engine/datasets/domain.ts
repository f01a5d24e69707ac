/**
 * The datasets' vocabulary, shared by the readers (engine/datasets), the store's repositories and
 * the services: formats, splits, keypoint definitions, boxes, and a benchmark pair as training and
 * evaluation read it. Types and constants only.
 */

export type DatasetFormat = 'spair' | 'pfpascal' | 'pfwillow' | 'folder' | 'coco';
export const DATASET_FORMATS = ['spair', 'pfpascal', 'pfwillow', 'folder', 'coco'] as const satisfies readonly DatasetFormat[];
/**
 * The annotation tools' formats (YOLO pose, DeepLabCut, Label Studio, CVAT; see docs/formats.md).
 * They are import and export formats, not stored kinds: a dataset imported from one is stored as
 * a 'coco' dataset (an annotated user dataset: editable, displayed frame), its `source` the tool's
 * file (data.yaml, config.yaml, the JSON or XML), so that re-importing it updates it in place.
 * (The store's CHECK on datasets.format admits only DATASET_FORMATS, and widening it would mean
 * rebuilding the datasets table, which its foreign keys do not allow inside a migration.)
 */
export type ToolFormat = 'yolo' | 'dlc' | 'labelstudio' | 'cvat';
export const TOOL_FORMATS = ['yolo', 'dlc', 'labelstudio', 'cvat'] as const satisfies readonly ToolFormat[];
/** What `import --format` takes: the stored kinds and the tools' formats. */
export type ImportFormat = DatasetFormat | ToolFormat;
export const IMPORT_FORMATS = [...DATASET_FORMATS, ...TOOL_FORMATS] as const satisfies readonly ImportFormat[];
/** What `datasets export --format` writes. */
export type ExportFormat = 'coco' | ToolFormat;
export const EXPORT_FORMATS = ['coco', ...TOOL_FORMATS] as const satisfies readonly ExportFormat[];
export type Split = 'trn' | 'val' | 'test';
export const SPLITS = ['trn', 'val', 'test'] as const satisfies readonly Split[];

export interface KeypointDef {
  name: string;
  /** CSS colour for the annotation UI. */
  color: string;
}

/** A palette for keypoints that come without colours (distinct, readable on photos). */
export const KEYPOINT_PALETTE = [
  '#e6194b',
  '#3cb44b',
  '#ffe119',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#46f0f0',
  '#f032e6',
  '#bcf60c',
  '#fabebe',
  '#008080',
  '#e6beff',
  '#9a6324',
  '#fffac8',
  '#800000',
  '#aaffc3',
  '#808000',
  '#ffd8b1',
  '#000075',
  '#808080',
];

export function defaultKeypointColor(index: number): string {
  return KEYPOINT_PALETTE[index % KEYPOINT_PALETTE.length]!;
}

/** x1, y1, x2, y2 in image pixels. */
export type Box = [number, number, number, number];

/** SPair-71k difficulty annotations (null for the other benchmarks). */
export interface PairFlags {
  viewpointVariation: number | null;
  scaleVariation: number | null;
  truncation: number | null;
  occlusion: number | null;
  mirror: number | null;
}

export interface PairImage {
  imageId: number;
  /** Absolute path (dataset root + relative path). */
  path: string;
  width: number;
  height: number;
  /** Content hash of the image file (cache identity). */
  sha256: string;
  bbox: Box | null;
  /** x0, y0, x1, y1, ... in original image pixels (length 2 * nPts). */
  kps: Float64Array;
}

export interface PairRecord {
  id: number;
  datasetId: number;
  format: DatasetFormat;
  split: Split;
  name: string;
  ordinal: number;
  categoryId: number;
  category: string;
  nPts: number;
  src: PairImage;
  trg: PairImage;
  kpIds: number[] | null;
  /** PF-Pascal training pairs: mirror both images, keypoints and boxes horizontally when reading. */
  flip: 0 | 1;
  flags: PairFlags;
}
