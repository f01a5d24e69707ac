/**
 * One colour per prompt, the same everywhere Compare draws it: the pair's overlays and legend, the
 * heatmap tiles, the prompt chips, the PCK table's swatches, the PCK-per-category bars, the sweep
 * lines and the gallery rows. Colours are assigned over every prompt the engine knows (not over
 * what one chart shows), so a chart of all evaluated prompts and the overlay of the chosen ones
 * agree, and two prompts drawn together never share a colour while the palette lasts.
 */

/**
 * Distinct hues, most distinct first, clear of the green and red that mark correct and wrong
 * predictions on the pair.
 */
export const SERIES_PALETTE = ['#3b82f6', '#f97316', '#9333ea', '#06b6d4', '#ec4899', '#8d6e63', '#64748b', '#eab308', '#1e3a8a', '#c026d3'] as const;

/**
 * Colours of a set of prompts, by id. Each prompt prefers the palette entry its id points at
 * (id 1 the first), so a prompt's colour does not depend on which prompts are chosen or shown;
 * where two ids point at the same entry, the higher id takes the next free one (a prompt created
 * later never moves the colour of an older one). Beyond the palette, colours are spread around
 * the hue circle by the golden angle from the id.
 */
export function seriesColours(ids: Iterable<number>): Map<number, string> {
  const n = SERIES_PALETTE.length;
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const taken = new Set<number>();
  const out = new Map<number, string>();
  for (const id of sorted) {
    const preferred = (((id - 1) % n) + n) % n;
    let slot = -1;
    for (let k = 0; k < n; k++) {
      const s = (preferred + k) % n;
      if (!taken.has(s)) {
        slot = s;
        break;
      }
    }
    if (slot >= 0) {
      taken.add(slot);
      out.set(id, SERIES_PALETTE[slot]!);
    } else {
      out.set(id, spreadColour(id));
    }
  }
  return out;
}

/** A colour past the palette: hues by the golden angle, alternating lightness. */
function spreadColour(id: number): string {
  const hue = (id * 137.508) % 360;
  return `hsl(${hue.toFixed(1)} 70% ${id % 2 === 0 ? 42 : 56}%)`;
}
