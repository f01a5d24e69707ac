/**
 * Match visualisation: source and target side by side at a common height, numbered source
 * keypoints, predicted target points (green when within the PCK threshold of the ground truth,
 * red otherwise, orange without ground truth) and lines between them. PNG via sharp + SVG.
 * Points are in each image's frame: `orient` (EXIF orientation applied) or the stored pixels.
 */
import sharp from 'sharp';
import { frameSize, inFrame } from '../../images/orientation.js';

export interface VisPoint {
  src: [number, number];
  pred: [number, number];
  gt?: [number, number];
  correct?: boolean;
}

const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe', '#008080'];

export async function drawMatches(srcFile: string, trgFile: string, points: VisPoint[], out: string, height = 480, opts: { orient?: boolean } = {}): Promise<void> {
  const orient = opts.orient ?? false;
  const load = async (f: string) => {
    const img = inFrame(sharp(f), orient);
    const { width: W, height: H } = frameSize(await img.metadata(), orient);
    const scale = height / H;
    const width = Math.round(W * scale);
    const buf = await img.resize(width, height, { fit: 'fill' }).removeAlpha().png().toBuffer();
    return { buf, width, scale };
  };
  const a = await load(srcFile);
  const b = await load(trgFile);
  const gap = 8;
  const total = a.width + gap + b.width;
  const ox = a.width + gap;
  const esc = (n: number) => n.toFixed(1);
  const parts: string[] = [];
  points.forEach((p, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const [sx, sy] = [p.src[0] * a.scale, p.src[1] * a.scale];
    const [px, py] = [ox + p.pred[0] * b.scale, p.pred[1] * b.scale];
    const verdict = p.correct === undefined ? '#ff9800' : p.correct ? '#2ecc40' : '#ff4136';
    parts.push(`<line x1="${esc(sx)}" y1="${esc(sy)}" x2="${esc(px)}" y2="${esc(py)}" stroke="${colour}" stroke-width="1.5" opacity="0.6"/>`);
    if (p.gt) {
      const [gx, gy] = [ox + p.gt[0] * b.scale, p.gt[1] * b.scale];
      parts.push(`<line x1="${esc(px)}" y1="${esc(py)}" x2="${esc(gx)}" y2="${esc(gy)}" stroke="${verdict}" stroke-width="2" stroke-dasharray="4 3"/>`);
      parts.push(`<rect x="${esc(gx - 4)}" y="${esc(gy - 4)}" width="8" height="8" fill="none" stroke="#fff" stroke-width="2"/>`);
    }
    parts.push(`<circle cx="${esc(sx)}" cy="${esc(sy)}" r="6" fill="${colour}" stroke="#fff" stroke-width="1.5"/>`);
    parts.push(`<text x="${esc(sx + 8)}" y="${esc(sy - 8)}" font-family="sans-serif" font-size="14" font-weight="bold" fill="#fff" stroke="#000" stroke-width="0.6">${i + 1}</text>`);
    parts.push(`<circle cx="${esc(px)}" cy="${esc(py)}" r="6" fill="${verdict}" stroke="${colour}" stroke-width="2.5"/>`);
    parts.push(`<text x="${esc(px + 8)}" y="${esc(py - 8)}" font-family="sans-serif" font-size="14" font-weight="bold" fill="#fff" stroke="#000" stroke-width="0.6">${i + 1}</text>`);
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${height}">${parts.join('')}</svg>`);
  await sharp({ create: { width: total, height, channels: 3, background: '#202020' } })
    .composite([
      { input: a.buf, left: 0, top: 0 },
      { input: b.buf, left: ox, top: 0 },
      { input: svg, left: 0, top: 0 },
    ])
    .png()
    .toFile(out);
}
