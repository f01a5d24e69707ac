/**
 * `models validate`, `models compile` and `match` through the CLI with the tiny fixture models:
 * what a valid folder reports (including widths the export leaves symbolic), every problem of a
 * broken one, compiled graphs cached by content hash, and matches printed, as JSON and drawn.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { type ShiftedPair, writeShiftedPairs } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sd: string;
let pair: ShiftedPair;

const cli = (args: string[]) => runCli(['--db', db, ...args]);

describe.skipIf(!HAVE_FIXTURES)('models and match through the CLI', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-models-cli-'));
    db = path.join(dir, 'ws.db');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    [pair] = await writeShiftedPairs(path.join(dir, 'img'), 1, { size: 128, points: 3, seed: 11 });
  }, 60_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('models validate: a Stable Diffusion and a DINOv2 folder, their widths and the provider', async () => {
    const r = await cli(['models', 'validate', '--model-dir', sd, '--dino-dir', modelPath('dinov2')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${sd}: OK (text width 32, 4 latent channels, scaling factor 0.18215, tokenizer yes)`);
    // the export leaves last_hidden_state's width symbolic: shape inference finds it
    expect(r.stdout).toContain(`${modelPath('dinov2')}: OK (DINOv2 width 32)`);
    expect(r.stdout).toMatch(/^execution provider: cpu/m);
    const j = await cli(['models', 'validate', '--model-dir', sd, '--dino-dir', modelPath('dinov2'), '--json']);
    expect(j.code, j.stderr).toBe(0);
    const report = JSON.parse(j.stdout);
    expect(report.sd).toMatchObject({ dir: sd, hiddenSize: 32, latentChannels: 4, tokenizer: true, capabilities: { training: { ok: true }, cpm: { ok: true }, generation: { ok: true } } });
    // without a DINOv2 folder, CPM is off and says so
    const noDino = await cli(['models', 'validate', '--model-dir', sd]);
    expect(noDino.stdout).toMatch(/^ {2}cannot train CPM prompts: no DINOv2 model is registered/m);
    expect(noDino.stdout).not.toMatch(/cannot train prompts/);
    expect(report.dino).toMatchObject({ dir: modelPath('dinov2'), hiddenSize: 32 });
    expect(report.provider).toBe('cpu');
  });

  it('models validate: names every missing and mismatched part', async () => {
    const bad = path.join(dir, 'bad-sd');
    fs.cpSync(sd, bad, { recursive: true });
    fs.rmSync(path.join(bad, 'unet'), { recursive: true });
    // a DINOv2 graph where the text encoder should be
    fs.copyFileSync(path.join(modelPath('dinov2'), 'model.onnx'), path.join(bad, 'text_encoder', 'model.onnx'));
    const r = await cli(['models', 'validate', '--model-dir', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${bad} is not a usable Stable Diffusion folder`);
    expect(r.stderr).toContain(`${path.join(bad, 'unet', 'model.onnx')} is missing`);
    expect(r.stderr).toContain(`${path.join(bad, 'text_encoder', 'model.onnx')}: needs input 'input_ids' int64 [batch, sequence]`);
    const d = await cli(['models', 'validate', '--model-dir', sd, '--dino-dir', path.join(dir, 'img')]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/is not a usable DINOv2 folder:\n {2}- .*model\.onnx is missing/);
  });

  it('models compile: the feature and text graphs, compiled once and then reused by content hash', async () => {
    const cache = path.join(dir, 'compile-cache');
    const a = await cli(['models', 'compile', '--model-dir', sd, '--cache-dir', cache]);
    expect(a.code, a.stderr).toBe(0);
    const files = a.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.endsWith('.onnx'));
    expect(files.map((f) => path.relative(cache, f).split(path.sep).slice(2).join('/')).sort()).toEqual(['text/embed.onnx', 'text/from-embeds.onnx', 'unet/features.onnx']);
    // progress on stderr: hashing and compiling with counts
    expect(a.stderr).toMatch(/compiling graphs 3\/3/);
    const stamps = files.map((f) => fs.statSync(f).mtimeMs);
    const b = await cli(['models', 'compile', '--model-dir', sd, '--cache-dir', cache]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(b.stderr).not.toMatch(/compiling graphs/);
    expect(files.map((f) => fs.statSync(f).mtimeMs)).toEqual(stamps);
  });

  it('match: prints the matches of the given points, as text and JSON, and draws them side by side', async () => {
    const points = pair.srcKps.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(';');
    const common = ['match', '--model-dir', sd, '--src', pair.src, '--trg', pair.trg, '--points', points, '--size', '256', '--ensemble', '2', '--cache-dir', path.join(dir, 'match-cache')];
    const vis = path.join(dir, 'vis.png');
    const t = await cli([...common, '--out', vis]);
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout.split('\n').filter((l) => /->/.test(l));
    expect(lines).toHaveLength(3);
    const j = await cli([...common, '--json']);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.matches).toHaveLength(3);
    out.matches.forEach((m: { src: number[]; match: number[] }, i: number) => {
      expect(m.src[0]).toBeCloseTo(pair.srcKps[i]![0], 1);
      expect(m.src[1]).toBeCloseTo(pair.srcKps[i]![1], 1);
      expect(m.match[0]).toBeGreaterThanOrEqual(0);
      expect(m.match[0]).toBeLessThanOrEqual(pair.width);
      expect(m.match[1]).toBeGreaterThanOrEqual(0);
      expect(m.match[1]).toBeLessThanOrEqual(pair.height);
      // the text output says the same
      expect(lines[i]).toBe(`${i + 1}: (${m.src[0]!.toFixed(1)}, ${m.src[1]!.toFixed(1)}) -> (${m.match[0]!.toFixed(1)}, ${m.match[1]!.toFixed(1)})`);
    });
    const meta = await sharp(vis).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThanOrEqual(2 * pair.width);
    expect(meta.height).toBeGreaterThanOrEqual(pair.height);
  }, 60_000);

  it('match: a point outside the source image or a malformed list is named', async () => {
    const base = ['match', '--model-dir', sd, '--src', pair.src, '--trg', pair.trg, '--size', '256'];
    const outside = await cli([...base, '--points', '10,10;500,20']);
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain('point 2 (500, 20) lies outside the source image (128x128)');
    const bad = await cli([...base, '--points', '10;x,3']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`--points entry 1 '10' is not 'x,y'`);
  });
});
