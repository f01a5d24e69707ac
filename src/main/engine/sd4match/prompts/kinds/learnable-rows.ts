/**
 * Prompts whose parameters are learnable token rows: [SOS, N learnable rows, EOS, pad...], the
 * fixed rows embedded from their ids (token + position), the learnable ones starting as the
 * embeddings of random token ids at positions 1..N. Single and Class prompts differ only in which
 * sets of rows exist and which set a pair uses.
 */
import { AppError } from '../../../../shared/errors.js';
import { concatBatch, sliceBatch } from '../../../graph/batching.js';
import type { HostTensor } from '../../../onnx/ir.js';
import type { EvalPair } from '../../matching/evaluate.js';
import { idsTensor, type PromptKind, tokenizerOf } from '../prompts.js';
import type { Rng } from '../../features/random.js';
import { CONTEXT_LENGTH, contextIds } from '../../model/tokenizer.js';
import { repeatBatch, rows, withRows } from '../token-rows.js';
import type { BatchPrompts, Params, PromptContext, PromptStrategy } from './strategy.js';

/** The sets of learnable rows of a kind. */
export interface RowSets {
  /** Parameter names, one set of rows each, in the order their initial rows are drawn. */
  names: string[];
  /** The set that pair `p` uses. */
  nameOf(p: EvalPair): string;
  /** The prompt file's tensor for set `name`. */
  fileKey(name: string): string;
  /** Categories the prompt file's metadata lists. */
  categories: string[];
}

/** A batch's prompts and the sets they are, in prompt order. */
interface RowBatch extends BatchPrompts {
  names: string[];
}

/** First learnable row: the one after SOS. */
const FIRST = 1;

export class LearnableRowPrompts implements PromptStrategy<RowBatch> {
  /** [1, CONTEXT_LENGTH, D]: SOS, padding where the learnable rows go, EOS, padding. */
  private fixed: HostTensor | null = null;

  constructor(
    readonly kind: PromptKind,
    private readonly ctx: PromptContext,
    private readonly sets: RowSets,
  ) {
    const n = ctx.cfg.nLearnable;
    if (!Number.isInteger(n) || n < 1 || n > CONTEXT_LENGTH - 2) {
      throw new AppError('INVALID_ARGUMENT', `${n} learnable rows do not fit between SOS and EOS of the ${CONTEXT_LENGTH}-token context (1..${CONTEXT_LENGTH - 2})`);
    }
  }

  private get end(): number {
    return FIRST + this.ctx.cfg.nLearnable;
  }

  private get fixedRows(): HostTensor {
    if (!this.fixed) throw new AppError('INTERNAL', `${this.kind} prompts used before init`);
    return this.fixed;
  }

  async init(rng: Rng): Promise<Params> {
    const { sd, cfg } = this.ctx;
    const tok = tokenizerOf(sd);
    const vocab = sd.vocabSize();
    const embed = (learn: number[]) => sd.embedIds(idsTensor(contextIds(tok, learn)));
    this.fixed = await embed(new Array(cfg.nLearnable).fill(tok.pad));
    const params: Params = {};
    for (const name of this.sets.names) {
      const ids = Array.from({ length: cfg.nLearnable }, () => rng.int(vocab));
      params[name] = rows(await embed(ids), FIRST, this.end);
    }
    return params;
  }

  /** Full prompts [n, CONTEXT_LENGTH, D] for learnable rows [n, N, D]. */
  private full(learn: HostTensor): HostTensor {
    return withRows(repeatBatch(this.fixedRows, learn.dims[0]), FIRST, learn);
  }

  /** One prompt per set the batch uses, in order of first use. */
  async batchPrompts(batch: EvalPair[], params: Params): Promise<RowBatch> {
    const names = [...new Set(batch.map((p) => this.sets.nameOf(p)))];
    return { tokens: this.full(concatBatch(names.map((n) => params[n]))), promptOf: batch.map((p) => names.indexOf(this.sets.nameOf(p))), names };
  }

  async paramGrads(prompts: RowBatch, gradTokens: HostTensor): Promise<Params> {
    return Object.fromEntries(prompts.names.map((n, i) => [n, rows(sliceBatch(gradTokens, i, 1), FIRST, this.end)]));
  }

  learningRate(_name: string, lr: number): number {
    return lr;
  }

  promptFile(params: Params): { tensors: Record<string, HostTensor>; categories: string[] } {
    return { tensors: Object.fromEntries(this.sets.names.map((n) => [this.sets.fileKey(n), this.full(params[n])])), categories: this.sets.categories };
  }
}
