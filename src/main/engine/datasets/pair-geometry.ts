/**
 * Stored pairs as training and evaluation read them: the PF-Pascal horizontal flip applied, the
 * benchmark named, images identified by content hash for the caches.
 */
import { appliesExifOrientation } from '../images/orientation.js';
import type { Benchmark, EvalPair } from '../sd4match/matching/evaluate.js';
import type { PairImage, PairRecord } from './domain.js';
import type { DatasetFormat } from './domain.js';

/**
 * The pair as the reference reads it when `flip` is set (PF-Pascal training): both images, their
 * keypoints and boxes mirrored horizontally, x' = width - x (boxes: x1' = width - x2,
 * x2' = width - x1). Pairs without the flag come back unchanged.
 */
export function applyFlip(pair: PairRecord): PairRecord {
  if (!pair.flip) return pair;
  const mirror = (side: PairImage): PairImage => {
    const kps = Float64Array.from(side.kps, (v, i) => (i % 2 === 0 ? side.width - v : v));
    const bbox = side.bbox && ([side.width - side.bbox[2], side.bbox[1], side.width - side.bbox[0], side.bbox[3]] as PairImage['bbox']);
    return { ...side, kps, bbox };
  };
  return { ...pair, src: mirror(pair.src), trg: mirror(pair.trg) };
}

export function benchmarkOf(format: DatasetFormat): Benchmark {
  return format === 'spair' || format === 'pfpascal' || format === 'pfwillow' ? format : 'generic';
}

function points(kps: Float64Array, n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => [kps[2 * i]!, kps[2 * i + 1]!] as [number, number]);
}

/** A stored pair (flip applied) as the evaluation and training code consume it, images in the dataset's frame. */
export function toEvalPair(record: PairRecord): EvalPair {
  const p = applyFlip(record);
  const flip = !!record.flip;
  const orient = appliesExifOrientation(record.format);
  const img = (side: PairImage) => ({ file: side.path, key: side.sha256, width: side.width, height: side.height, flip, orient });
  return {
    id: p.id,
    category: p.category,
    src: img(p.src),
    trg: img(p.trg),
    srcKps: points(p.src.kps, p.nPts),
    trgKps: points(p.trg.kps, p.nPts),
    trgBbox: p.trg.bbox,
    flags: p.format === 'spair' ? { viewpoint: p.flags.viewpointVariation, scale: p.flags.scaleVariation, truncation: p.flags.truncation, occlusion: p.flags.occlusion } : undefined,
  };
}
