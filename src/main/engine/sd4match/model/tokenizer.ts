/**
 * CLIP's BPE tokenizer through @huggingface/tokenizers. Stable Diffusion exports usually ship the
 * slow tokenizer's files (vocab.json + merges.txt); we assemble the equivalent fast-tokenizer
 * description (NFC, whitespace collapse, lowercase, CLIP's split pattern, byte-level BPE with the
 * `</w>` word suffix) in memory. A tokenizer.json is used as is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { AppError } from '../../../shared/errors.js';
import type { SdFolder } from './model-folder.js';

/** Token positions of CLIP's text encoder: every prompt is [BOS, up to 75 tokens, EOS, pad...] of this length. */
export const CONTEXT_LENGTH = 77;

export interface ClipTokenizer {
  bos: number;
  eos: number;
  pad: number;
  /** [BOS, tokens..., EOS, pad...] of length 77 (content truncated to 75 tokens). */
  encode(text: string): number[];
}

/** [BOS, ...body, EOS, pad...] of CONTEXT_LENGTH ids; a body longer than CONTEXT_LENGTH - 2 is refused. */
export function contextIds(t: Pick<ClipTokenizer, 'bos' | 'eos' | 'pad'>, body: number[]): number[] {
  if (body.length > CONTEXT_LENGTH - 2) throw new AppError('INTERNAL', `${body.length} tokens do not fit between BOS and EOS of a ${CONTEXT_LENGTH}-token prompt`);
  const ids = [t.bos, ...body, t.eos];
  while (ids.length < CONTEXT_LENGTH) ids.push(t.pad);
  return ids;
}

const CLIP_SPLIT = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `${file}: not valid JSON (${(e as Error).message})`);
  }
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export function loadClipTokenizer(files: NonNullable<SdFolder['tokenizer']>, folderForMessages: string): ClipTokenizer {
  let json: Record<string, unknown>;
  const dir = 'json' in files ? path.dirname(files.json) : path.dirname(files.vocab);
  if ('json' in files) {
    json = readJson(files.json);
  } else {
    const vocab = readJson(files.vocab) as Record<string, number>;
    const merges = fs
      .readFileSync(files.merges, 'utf8')
      .split('\n')
      .filter((l, i) => l.trim().length > 0 && !(i === 0 && l.startsWith('#version')));
    const special = ['<|startoftext|>', '<|endoftext|>'].filter((t) => vocab[t] !== undefined);
    json = {
      version: '1.0',
      added_tokens: special.map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true })),
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<|endoftext|>',
        continuing_subword_prefix: '',
        end_of_word_suffix: '</w>',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges,
      },
    };
  }
  const configFile = path.join(dir, 'tokenizer_config.json');
  const specialFile = path.join(dir, 'special_tokens_map.json');
  const config = fs.existsSync(configFile) ? readJson(configFile) : {};
  const specialMap = fs.existsSync(specialFile) ? readJson(specialFile) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, { ...config, model_max_length: CONTEXT_LENGTH });
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `${dir}: the tokenizer files cannot be loaded (${(e as Error).message})`);
  }
  const id = (t: string | undefined) => (t === undefined ? undefined : tok.token_to_id(t));
  const bos = id(tokenContent(config.bos_token) ?? tokenContent(specialMap.bos_token) ?? '<|startoftext|>');
  const eos = id(tokenContent(config.eos_token) ?? tokenContent(specialMap.eos_token) ?? '<|endoftext|>');
  if (bos === undefined || eos === undefined) {
    throw new AppError('INVALID_ARGUMENT', `${dir}: the tokenizer of ${folderForMessages} has no <|startoftext|>/<|endoftext|> tokens`);
  }
  const padToken = tokenContent(config.pad_token) ?? tokenContent(specialMap.pad_token);
  const pad = padToken !== undefined ? (id(padToken) ?? eos) : eos;
  return {
    bos,
    eos,
    pad,
    encode(text: string): number[] {
      return contextIds({ bos, eos, pad }, tok.encode(text, { add_special_tokens: false }).ids.slice(0, CONTEXT_LENGTH - 2));
    },
  };
}
