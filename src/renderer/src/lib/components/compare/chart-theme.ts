/** Theme colours for Compare's canvas charts, and the prompts' series colours. */
import { compare } from '../../state/compare.svelte.js';

/** A colour token as a canvas needs it: resolved (tokens are light-dark() pairs) to rgb(). */
export function cssVar(host: Element | null | undefined, name: string): string {
  const probe = document.createElement('span');
  probe.style.color = `var(${name})`;
  (host ?? document.body).appendChild(probe);
  const colour = getComputedStyle(probe).color;
  probe.remove();
  return colour || '#888';
}

/**
 * A prompt's colour in a chart: the one it has everywhere in Compare, chosen or not (two series
 * of a chart never share one).
 */
export function promptColour(promptId: number): string {
  return compare.colour(promptId);
}

/**
 * Downloads a chart's canvas as a PNG on the page's surface colour (a chart canvas is
 * transparent, which most image viewers show as black or a checkerboard).
 */
export function downloadCanvas(canvas: HTMLCanvasElement, filename: string): void {
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const g = out.getContext('2d');
  if (!g) return;
  g.fillStyle = cssVar(canvas.parentElement, '--surface');
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(canvas, 0, 0);
  const a = document.createElement('a');
  a.href = out.toDataURL('image/png');
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

/** A file name part from free text (labels, dataset names). */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'image'
  );
}

/** The y axis of a PCK chart: from 0, in percent, titled PCK@alpha. */
export function pckAxis(alpha: number) {
  return {
    type: 'linear' as const,
    beginAtZero: true,
    title: { display: true, text: `PCK@${alpha}`, font: { size: 11 } },
    ticks: { font: { size: 11 }, maxTicksLimit: 6, callback: (v: string | number) => `${Math.round(Number(v) * 1000) / 10}%` },
  };
}
