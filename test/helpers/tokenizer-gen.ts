/**
 * A CLIP-style BPE tokenizer (vocab.json + merges.txt, as Stable Diffusion exports ship them) sized
 * for the tiny fixture text encoder: vocabulary of 1000 with <|startoftext|> = 998,
 * <|endoftext|> = 999 and "!" = 0 (SD 2's pad token).
 */
import fs from 'node:fs';
import path from 'node:path';

/** GPT-2/CLIP byte-to-unicode table. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

export function writeTinyClipTokenizer(dir: string, words: string[] = ['a', 'photo', 'of', 'cat', 'dog', 'car', 'bird', 'chair']): void {
  fs.mkdirSync(dir, { recursive: true });
  const table = bytesToUnicode();
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (t: string) => {
    if (vocab[t] === undefined) vocab[t] = next++;
  };
  for (let b = 33; b < 127; b++) add(table[b]); // "!" first -> id 0
  for (let b = 0; b < 256; b++) add(table[b]);
  for (let b = 0; b < 256; b++) add(`${table[b]}</w>`);
  const merges: string[] = [];
  for (const w of words) {
    // merge left to right: ((w0 w1) w2) ... with </w> on the last symbol
    const chars = [...w].map((ch, i, all) => (i === all.length - 1 ? `${ch}</w>` : ch));
    let acc = chars[0];
    for (let i = 1; i < chars.length; i++) {
      const merged = acc + chars[i];
      if (!merges.includes(`${acc} ${chars[i]}`)) merges.push(`${acc} ${chars[i]}`);
      add(merged);
      acc = merged;
    }
  }
  if (next > 998) throw new Error('tiny tokenizer vocabulary too large');
  vocab['<|startoftext|>'] = 998;
  vocab['<|endoftext|>'] = 999;
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
  fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '!', model_max_length: 77, do_lower_case: true }));
}

/** A copy of the tiny SD folder (weights hard-linked or copied) with a tokenizer added. */
export function tinySdWithTokenizer(fixtureSd: string, dest: string): string {
  fs.cpSync(fixtureSd, dest, { recursive: true });
  fs.chmodSync(dest, 0o755);
  for (const d of fs.readdirSync(dest)) {
    const p = path.join(dest, d);
    fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
  }
  writeTinyClipTokenizer(path.join(dest, 'tokenizer'));
  return dest;
}
