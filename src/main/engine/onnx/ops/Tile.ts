import { mapTile } from './fold-helpers.js';
import type { OpDef } from './op.js';

// shape: Y[i] = X[i] · repeats[i]; fold: x repeated
export const Tile: OpDef = {
  opType: 'Tile',
  infer(ctx) {
    const reps = ctx.constInts(1, 'repeats')!;
    return ctx.one(ctx.need(0).dims.map((d, i) => d * reps[i]));
  },
  fold: (ctx) => [mapTile(ctx.input(0), ctx.out[0].dims)],
};
