/**
 * Shared backward pass of mean/variance normalisation, used by the Instance-, Layer- and
 * GroupNormalization rules. With x̂ = (x - μ)·r, r = 1/√(σ² + ε) over `axes`:
 *   dx = r · (gx̂ - mean(gx̂) - x̂ · mean(gx̂ · x̂))
 */
import type { RuleContext } from './context.js';

export interface Normalized {
  xhat: string;
  rstd: string;
}

/**
 * Recomputes r (and x̂, unless the forward already holds it) from x: steadier than inverting an
 * affine output whose scale may be near zero.
 */
export function normalizeForward(ctx: RuleContext, x: string, axes: number[], eps: number, knownXhat?: string): Normalized {
  const mu = ctx.reduceMean(x, axes);
  const xc = ctx.sub(x, mu);
  const variance = ctx.reduceMean(ctx.mul(xc, xc), axes);
  const rstd = ctx.op1('Reciprocal', [ctx.op1('Sqrt', [ctx.add(variance, ctx.scalar(eps, x))])]);
  return { xhat: knownXhat ?? ctx.mul(xc, rstd), rstd };
}

/** dx for a gradient `gxhat` with respect to x̂. */
export function normalizeBackward(ctx: RuleContext, gxhat: string, n: Normalized, axes: number[]): string {
  const m1 = ctx.reduceMean(gxhat, axes);
  const m2 = ctx.reduceMean(ctx.mul(gxhat, n.xhat), axes);
  return ctx.mul(n.rstd, ctx.sub(ctx.sub(gxhat, m1), ctx.mul(n.xhat, m2)));
}
