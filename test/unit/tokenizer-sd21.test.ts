/**
 * Special token ids come from the tokenizer, not from the text encoder's config: SD 2-1's
 * text_encoder/config.json says bos_token_id 0 and eos_token_id 2 (leftovers of the CLIP config
 * class), while its tokenizer uses <|startoftext|> = 49406, <|endoftext|> = 49407 and pads with
 * "!" = 0. Runs on the real SD 2-1 tokenizer files (small: test/fixtures/sd21, copied from the
 * full-size SD 2-1 folder with its text encoder config).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTEXT_LENGTH, loadClipTokenizer } from '../../src/main/engine/sd4match/model/tokenizer.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SD21 = path.resolve(REPO_ROOT, 'test/fixtures/sd21');
const TOKENIZER = path.join(SD21, 'tokenizer');
const HAVE_TOKENIZER = fs.existsSync(path.join(TOKENIZER, 'vocab.json')) && fs.existsSync(path.join(TOKENIZER, 'merges.txt'));
if (!HAVE_TOKENIZER) console.warn(`[skip] SD 2-1 tokenizer not found at ${TOKENIZER} (vocab.json + merges.txt); these tests need it`);

describe.skipIf(!HAVE_TOKENIZER)('the SD 2-1 tokenizer', () => {
  // the files inspectSdFolder finds for a folder that ships the slow tokenizer's files
  const load = () => loadClipTokenizer({ vocab: path.join(TOKENIZER, 'vocab.json'), merges: path.join(TOKENIZER, 'merges.txt') }, SD21);

  it('takes bos, eos and pad from the tokenizer files: 49406, 49407 and 0 ("!")', () => {
    const tok = load();
    expect(tok.bos).toBe(49406);
    expect(tok.eos).toBe(49407);
    expect(tok.pad).toBe(0);
    const vocab = JSON.parse(fs.readFileSync(path.join(TOKENIZER, 'vocab.json'), 'utf8')) as Record<string, number>;
    expect(vocab['!']).toBe(0);
  });

  const encoderConfig = path.join(SD21, 'text_encoder', 'config.json');
  it.skipIf(!fs.existsSync(encoderConfig))('disagrees with the text encoder config, which is not where the ids come from', () => {
    const c = JSON.parse(fs.readFileSync(encoderConfig, 'utf8')) as { bos_token_id?: number; eos_token_id?: number };
    expect([c.bos_token_id, c.eos_token_id]).toEqual([0, 2]);
    expect([load().bos, load().eos]).not.toEqual([c.bos_token_id, c.eos_token_id]);
  });

  it('encodes "a photo of a cat" as bos, five tokens, eos, then pad 0 up to 77 ids', () => {
    const ids = load().encode('a photo of a cat');
    expect(ids).toHaveLength(CONTEXT_LENGTH);
    expect(CONTEXT_LENGTH).toBe(77);
    expect(ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(ids.slice(7)).toEqual(new Array(77 - 7).fill(0));
  });
});
