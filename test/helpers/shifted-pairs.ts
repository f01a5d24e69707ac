/**
 * Synthetic correspondence data: textured images and copies shifted by a known offset, with
 * keypoints that follow the shift. Real JPEG files on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Rng } from './random.js';

export interface ShiftedPair {
  src: string;
  trg: string;
  width: number;
  height: number;
  category: string;
  srcKps: [number, number][];
  trgKps: [number, number][];
}

/** A smooth random texture (sum of a few oriented sinusoids per channel) with distinct blobs. */
function texture(rng: Rng, w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  const waves = Array.from({ length: 3 }, () => Array.from({ length: 3 }, () => ({ fx: rng.uniform(0.01, 0.08), fy: rng.uniform(0.01, 0.08), ph: rng.uniform(0, 6.28) })));
  const blobs = Array.from({ length: 6 }, () => ({ x: rng.uniform(0, w), y: rng.uniform(0, h), r: rng.uniform(8, 24), c: [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)] }));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 128;
        for (const wv of waves[c]) v += 40 * Math.sin(wv.fx * x + wv.fy * y + wv.ph);
        for (const b of blobs) if ((x - b.x) ** 2 + (y - b.y) ** 2 < b.r * b.r) v = b.c[c];
        px[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}

/** `n` pairs of `size` x `size` images: the target is the source shifted by up to `maxShift` pixels. */
export async function writeShiftedPairs(dir: string, n: number, opts: { size?: number; points?: number; maxShift?: number; seed?: number; categories?: string[] } = {}): Promise<ShiftedPair[]> {
  const size = opts.size ?? 128;
  const nPts = opts.points ?? 8;
  const maxShift = opts.maxShift ?? 16;
  const cats = opts.categories ?? ['cat'];
  const rng = new Rng(opts.seed ?? 7);
  fs.mkdirSync(dir, { recursive: true });
  const pairs: ShiftedPair[] = [];
  for (let i = 0; i < n; i++) {
    const big = size + 2 * maxShift;
    const tex = texture(rng, big, big);
    const dx = rng.int(-maxShift, maxShift + 1);
    const dy = rng.int(-maxShift, maxShift + 1);
    const src = path.join(dir, `pair${i}_src.jpg`);
    const trg = path.join(dir, `pair${i}_trg.jpg`);
    const img = () => sharp(tex, { raw: { width: big, height: big, channels: 3 } });
    await img().extract({ left: maxShift, top: maxShift, width: size, height: size }).jpeg({ quality: 95 }).toFile(src);
    await img()
      .extract({ left: maxShift - dx, top: maxShift - dy, width: size, height: size })
      .jpeg({ quality: 95 })
      .toFile(trg);
    const srcKps: [number, number][] = [];
    const trgKps: [number, number][] = [];
    while (srcKps.length < nPts) {
      const x = rng.uniform(maxShift + 2, size - maxShift - 3);
      const y = rng.uniform(maxShift + 2, size - maxShift - 3);
      srcKps.push([x, y]);
      trgKps.push([x + dx, y + dy]);
    }
    pairs.push({ src, trg, width: size, height: size, category: cats[i % cats.length], srcKps, trgKps });
  }
  return pairs;
}

/**
 * The shifted pairs as an SPair-71k folder (JPEGImages/<cat>/, PairAnnotation/<split>/*.json,
 * Layout/large/<split>.txt): the first `trn` pairs train, the rest validate.
 */
export async function writeShiftedSpair(root: string, n: number, trn: number, opts: Parameters<typeof writeShiftedPairs>[2] = {}): Promise<ShiftedPair[]> {
  const pairs = await writeShiftedPairs(path.join(root, 'tmp-images'), n, opts);
  const layout: Record<string, string[]> = { trn: [], val: [], test: [] };
  for (const [i, p] of pairs.entries()) {
    const split = i < trn ? 'trn' : 'val';
    const dir = path.join(root, 'JPEGImages', p.category);
    fs.mkdirSync(dir, { recursive: true });
    const s = `${String(2 * i).padStart(6, '0')}`;
    const t = `${String(2 * i + 1).padStart(6, '0')}`;
    fs.renameSync(p.src, path.join(dir, `${s}.jpg`));
    fs.renameSync(p.trg, path.join(dir, `${t}.jpg`));
    p.src = path.join(dir, `${s}.jpg`);
    p.trg = path.join(dir, `${t}.jpg`);
    const name = `${i}-${s}-${t}:${p.category}`;
    const ann = path.join(root, 'PairAnnotation', split);
    fs.mkdirSync(ann, { recursive: true });
    const kp = (k: [number, number][]) => k.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100]);
    fs.writeFileSync(
      path.join(ann, `${name}.json`),
      JSON.stringify({
        pair_id: i,
        src_imname: `${s}.jpg`,
        trg_imname: `${t}.jpg`,
        src_imsize: [p.width, p.height, 3],
        trg_imsize: [p.width, p.height, 3],
        src_bndbox: [0, 0, p.width - 1, p.height - 1],
        trg_bndbox: [0, 0, p.width - 1, p.height - 1],
        category: p.category,
        src_kps: kp(p.srcKps),
        trg_kps: kp(p.trgKps),
        kps_ids: p.srcKps.map((_, k) => String(k)),
        mirror: 0,
        viewpoint_variation: 0,
        scale_variation: 0,
        truncation: 0,
        occlusion: 0,
      }),
    );
    layout[split].push(name);
  }
  fs.rmSync(path.join(root, 'tmp-images'), { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'Layout', 'large'), { recursive: true });
  for (const [split, names] of Object.entries(layout)) fs.writeFileSync(path.join(root, 'Layout', 'large', `${split}.txt`), names.map((x) => `${x}\n`).join(''));
  return pairs;
}
