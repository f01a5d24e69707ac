/**
 * Navigation: the view and its parameters live in the URL's hash (`#/annotate?dataset=1&image=7`),
 * so a reload, the back button and the Electron window all come back to the same place. The page
 * URL's query (the browser-mode access token) is never touched. Each view's last parameters are
 * remembered (for the window's session): opening a view from the side bar or a shortcut comes back
 * to where the user left it (Compare's dataset, prompts, pair and tab; Annotate's image).
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
/** Each view's last parameters (sessionStorage: this window, across reloads). */
const VIEW_PARAMS_KEY = 'sd4match.viewParams';

type ViewParams = Partial<Record<ViewName, Record<string, string>>>;

function loadViewParams(): ViewParams {
  try {
    const raw = JSON.parse(sessionStorage.getItem(VIEW_PARAMS_KEY) ?? 'null') as unknown;
    if (!raw || typeof raw !== 'object') return {};
    const out: ViewParams = {};
    for (const [view, params] of Object.entries(raw as Record<string, unknown>)) {
      if (!(VIEWS as readonly string[]).includes(view) || !params || typeof params !== 'object') continue;
      out[view as ViewName] = Object.fromEntries(Object.entries(params as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
    }
    return out;
  } catch {
    return {};
  }
}

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
  /** Where each view was left (not reactive: read when a view is opened). */
  private readonly last: ViewParams = loadViewParams();

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
      this.remember();
    });
  }

  /**
   * Opens a view (a new history entry): at `params`, or without them where the user left it
   * (the side bar and Alt+1..7 come back to the same selection).
   */
  go(view: ViewName, params?: Record<string, string>): void {
    this.view = view;
    this.params = params ?? { ...(this.last[view] ?? {}) };
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
    this.remember();
  }

  /** Keeps the current view's parameters for its next opening. */
  private remember(): void {
    this.last[this.view] = { ...this.params };
    try {
      sessionStorage.setItem(VIEW_PARAMS_KEY, JSON.stringify(this.last));
    } catch {
      // storage full or refused: the memory still holds for this page
    }
  }
}

export const router = new Router();
