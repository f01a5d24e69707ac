/**
 * `eval` end to end through the CLI with the tiny fixture models on generated SPair-, PF-Pascal- and
 * PF-Willow-format datasets, every prompt kind; the caches; and bad input.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../../src/main/engine/sd4match/matching/evaluate.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { runCli } from '../helpers/cli.js';
import { genPfPascal, genPfWillow, genSpair } from '../helpers/dataset-gen.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writePromptFile } from '../helpers/prompt-files.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sd: string;
let modelHash: string;
const dino = modelPath('dinov2');

async function cli(args: string[]) {
  const r = await runCli(['--db', db, ...args]);
  return r;
}

/** What `eval --json` writes: the report and the run that recorded it. */
type JsonReport = EvalReport & { runId: number };

/** Runs `eval --json`; `report` is null when the CLI failed (each test checks `code` before reading it). */
async function evalJson(args: string[]): Promise<{ code: number; stderr: string; report: JsonReport }> {
  const out = path.join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  const r = await cli(['eval', '--model-dir', sd, '--size', '256', '--ensemble', '2', '--json', out, ...args]);
  return { code: r.code, stderr: r.stderr, report: r.code === 0 ? (JSON.parse(fs.readFileSync(out, 'utf8')) as JsonReport) : (null as unknown as JsonReport) };
}

describe.skipIf(!HAVE_FIXTURES)('eval through the CLI', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-eval-'));
    db = path.join(dir, 'ws.db');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    const m = SdModel.open(sd, { cacheDir: `${db}-cache` });
    modelHash = m.compiled.modelHash;
    await m.dispose();
    await genSpair(path.join(dir, 'spair'), { categories: ['cat', 'dog'], imagesPerCategory: 4, pairs: { trn: 6, val: 2, test: 6 }, size: [64, 160] });
    await genPfPascal(path.join(dir, 'pfpascal'), { categories: ['car', 'dog'], imagesPerCategory: 3, pairs: { trn: 4, val: 2, test: 4 } });
    await genPfWillow(path.join(dir, 'pfwillow'), { pairs: 5 });
    for (const [format, name] of [
      ['spair', 'spair'],
      ['pfpascal', 'pfpascal'],
      ['pfwillow', 'pfwillow'],
    ]) {
      const r = await cli(['import', '--format', format, '--root', path.join(dir, name), '--name', name, '--quiet']);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 180_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function expectReport(report: EvalReport, pairs: number) {
    expect(report.pairs).toBe(pairs);
    for (const m of ['kernelsoftmax', 'softmax', 'nn', 'bilinear']) {
      for (const a of ['0.05', '0.1', '0.15']) {
        const v = report.pck[m][a].image;
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      // PCK grows with alpha
      expect(report.pck[m]['0.15'].image).toBeGreaterThanOrEqual(report.pck[m]['0.05'].image);
    }
    expect(report.provider).toBe('cpu');
  }

  it('evaluates SPair with the empty prompt, and a second identical eval runs from the caches at least 10x faster', async () => {
    const a = await evalJson(['--dataset', 'spair', '--prompt', 'empty', '--ensemble', '8']);
    expect(a.code, a.stderr).toBe(0);
    expectReport(a.report, 6);
    expect(Object.keys(a.report.pck.kernelsoftmax['0.1'].categories).sort()).toEqual(['cat', 'dog']);
    expect(Object.keys(a.report.pck.kernelsoftmax['0.1'].flags).sort()).toEqual(['occlusion', 'scale', 'truncation', 'viewpoint']);
    const b = await evalJson(['--dataset', 'spair', '--prompt', 'empty', '--ensemble', '8']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.report.pck).toEqual(a.report.pck);
    expect(b.report.cache.hitRate).toBe(1);
    expect(b.report.seconds * 10).toBeLessThan(a.report.seconds);
  });

  it('evaluates the template prompt, the DINOv2 baseline and learned Single, Class and CPM prompt files', async () => {
    const single = path.join(dir, 'single.safetensors');
    const klass = path.join(dir, 'class.safetensors');
    const cpm = path.join(dir, 'cpm.safetensors');
    writePromptFile(single, 'single', { modelHash, imageSize: 256, hidden: 32 });
    writePromptFile(klass, 'class', { modelHash, imageSize: 256, hidden: 32, categories: ['cat', 'dog'] });
    writePromptFile(cpm, 'cpm', { modelHash, imageSize: 256, hidden: 32, dino: 32 });
    const reports: Record<string, EvalReport> = {};
    for (const [label, args] of [
      ['template', ['--prompt', 'template']],
      ['dino', ['--prompt', 'dino', '--dino-dir', dino]],
      ['single', ['--prompt', single]],
      ['class', ['--prompt', klass]],
      ['cpm', ['--prompt', cpm, '--dino-dir', dino]],
    ] as const) {
      const r = await evalJson(['--dataset', 'spair', ...args]);
      expect(r.code, `${label}: ${r.stderr}`).toBe(0);
      expectReport(r.report, 6);
      reports[label] = r.report;
    }
    // different prompts give different features, hence different matches
    expect(reports.single.perPair).not.toEqual(reports.class.perPair);
  });

  it('evaluates PF-Pascal and PF-Willow with their thresholds, in both frames', async () => {
    const p = await evalJson(['--dataset', 'pfpascal', '--prompt', 'template']);
    expect(p.code, p.stderr).toBe(0);
    expectReport(p.report, 4);
    const w = await evalJson(['--dataset', 'pfwillow', '--prompt', 'empty', '--frame', 'original']);
    expect(w.code, w.stderr).toBe(0);
    expectReport(w.report, 5);
    expect(w.report.frame).toBe('original');
  });

  it('prints the table and records the run in the store', async () => {
    const r = await cli(['eval', '--model-dir', sd, '--size', '256', '--ensemble', '2', '--dataset', 'spair', '--prompt', 'empty', '--category', 'cat', '--methods', 'kernelsoftmax,nn']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/empty prompt: 3 pairs, \d+ keypoints, PCK \(%\) per image in the resized frame, provider cpu/);
    expect(r.stdout).toMatch(/kernelsoftmax\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    expect(r.stdout).toMatch(/^run \d+$/m);
    expect(r.stderr).toMatch(/evaluating pairs 3\/3/);
  });

  describe('bad input', () => {
    it('names every missing part of a model folder', async () => {
      const broken = path.join(dir, 'broken-sd');
      fs.cpSync(sd, broken, { recursive: true });
      fs.rmSync(path.join(broken, 'vae_encoder'), { recursive: true, force: true });
      const r = await cli(['eval', '--model-dir', broken, '--dataset', 'spair', '--size', '256']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/is not a usable Stable Diffusion folder/);
      expect(r.stderr).toMatch(/vae_encoder\/model\.onnx is missing/);
    });

    it('says a text prompt needs a tokenizer when the folder has none', async () => {
      const r = await cli(['eval', '--model-dir', modelPath('sd'), '--dataset', 'spair', '--size', '256', '--prompt', 'template']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/text prompts need a tokenizer, but .*tokenizer has neither vocab\.json \+ merges\.txt nor tokenizer\.json/);
    });

    it('refuses a prompt file trained for another model or another size', async () => {
      const other = path.join(dir, 'other-model.safetensors');
      writePromptFile(other, 'single', { modelHash: 'f'.repeat(24), imageSize: 256, hidden: 32 });
      const a = await cli(['eval', '--model-dir', sd, '--dataset', 'spair', '--size', '256', '--prompt', other]);
      expect(a.code).not.toBe(0);
      expect(a.stderr).toMatch(/was trained for another model/);
      const small = path.join(dir, 'other-size.safetensors');
      writePromptFile(small, 'single', { modelHash, imageSize: 128, hidden: 32 });
      const b = await cli(['eval', '--model-dir', sd, '--dataset', 'spair', '--size', '256', '--prompt', small]);
      expect(b.code).not.toBe(0);
      expect(b.stderr).toMatch(/was trained at image size 128; this evaluation uses 256 \(pass --size 128\)/);
    });

    it('names an image that cannot be decoded, and caches nothing wrong for it', async () => {
      const root = path.join(dir, 'spair', 'JPEGImages', 'dog');
      const victim = path.join(root, fs.readdirSync(root)[0]);
      const good = fs.readFileSync(victim);
      const before = await evalJson(['--dataset', 'spair', '--prompt', 'empty', '--category', 'dog', '--seed', '5']);
      expect(before.code, before.stderr).toBe(0);
      fs.rmSync(`${db}-cache/tensors`, { recursive: true, force: true });
      fs.writeFileSync(victim, Buffer.from('this is not a jpeg'));
      try {
        const r = await cli(['eval', '--model-dir', sd, '--size', '256', '--ensemble', '2', '--dataset', 'spair', '--prompt', 'empty', '--category', 'dog', '--seed', '5']);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`${victim}: cannot be decoded as an image`);
      } finally {
        fs.writeFileSync(victim, good);
      }
      const after = await evalJson(['--dataset', 'spair', '--prompt', 'empty', '--category', 'dog', '--seed', '5']);
      expect(after.code, after.stderr).toBe(0);
      expect(after.report.pck).toEqual(before.report.pck);
    });
  });
});
