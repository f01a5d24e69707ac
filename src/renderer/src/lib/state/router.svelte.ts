/**
 * Navigation: the view and its parameters live in the URL's hash (`#/annotate?dataset=1&image=7`),
 * so a reload, the back button and the Electron window all come back to the same place. The page
 * URL's query (the browser-mode access token) is never touched.
 */

export const VIEWS = ['models', 'datasets', 'annotate', 'pairs', 'runs', 'compare', 'settings'] as const;
export type ViewName = (typeof VIEWS)[number];

export const VIEW_TITLES: Record<ViewName, string> = {
  models: 'Models',
  datasets: 'Datasets',
  annotate: 'Annotate',
  pairs: 'Pairs',
  runs: 'Runs',
  compare: 'Compare',
  settings: 'Settings',
};

const LAST_VIEW_KEY = 'sd4match.lastRoute';

function parse(hash: string): { view: ViewName; params: Record<string, string> } | null {
  const m = /^#\/([a-z]+)(?:\?(.*))?$/.exec(hash);
  if (!m || !(VIEWS as readonly string[]).includes(m[1]!)) return null;
  return { view: m[1] as ViewName, params: Object.fromEntries(new URLSearchParams(m[2] ?? '')) };
}

function format(view: ViewName, params: Record<string, string>): string {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '')).toString();
  return `#/${view}${q ? `?${q}` : ''}`;
}

class Router {
  view = $state<ViewName>('datasets');
  params = $state<Record<string, string>>({});

  constructor() {
    const initial = parse(window.location.hash) ?? parse(localStorage.getItem(LAST_VIEW_KEY) ?? '') ?? { view: 'datasets' as ViewName, params: {} };
    this.view = initial.view;
    this.params = initial.params;
    this.write(true);
    window.addEventListener('hashchange', () => {
      const r = parse(window.location.hash);
      if (!r) return;
      this.view = r.view;
      this.params = r.params;
      localStorage.setItem(LAST_VIEW_KEY, window.location.hash);
    });
  }

  /** Opens a view (a new history entry). */
  go(view: ViewName, params: Record<string, string> = {}): void {
    this.view = view;
    this.params = params;
    this.write(false);
  }

  /** Changes parameters of the current view in place (no history entry per click). */
  set(changes: Record<string, string | number | null | undefined>): void {
    const next = { ...this.params };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === undefined || v === '') delete next[k];
      else next[k] = String(v);
    }
    this.params = next;
    this.write(true);
  }

  /** A numeric parameter, or null. */
  num(name: string): number | null {
    const v = this.params[name];
    if (v === undefined || !/^\d+$/.test(v)) return null;
    return Number(v);
  }

  private write(replace: boolean): void {
    const hash = format(this.view, this.params);
    if (window.location.hash !== hash) {
      const url = `${window.location.pathname}${window.location.search}${hash}`;
      if (replace) history.replaceState(null, '', url);
      else history.pushState(null, '', url);
    }
    localStorage.setItem(LAST_VIEW_KEY, hash);
  }
}

export const router = new Router();
