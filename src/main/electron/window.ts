/**
 * The main window: locked-down web preferences, navigation and pop-ups refused, and its bounds
 * remembered across runs in `<userData>/window-state.json`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserWindow, nativeTheme, screen, session, shell, app, type Rectangle } from 'electron';
import { z } from 'zod';

/** Where the renderer comes from: the dev server (electron-vite dev) or the built files. */
export type RendererSource = { kind: 'url'; url: string } | { kind: 'file'; file: string };

export interface MainWindowOptions {
  preloadPath: string;
  renderer: RendererSource;
  /** Defaults to `<userData>/window-state.json`. */
  stateFile?: string;
}

const DEFAULT_SIZE = { width: 1280, height: 820 };
const MIN_SIZE = { width: 800, height: 560 };

const WindowStateSchema = z.object({
  x: z.number().int().optional(),
  y: z.number().int().optional(),
  width: z.number().int().min(MIN_SIZE.width).max(16384),
  height: z.number().int().min(MIN_SIZE.height).max(16384),
  maximized: z.boolean().default(false),
});
type WindowState = z.infer<typeof WindowStateSchema>;

function defaultStateFile(): string {
  return path.join(app.getPath('userData'), 'window-state.json');
}

/** Reads the saved bounds; anything unreadable or off every screen falls back to a centred default. */
function loadWindowState(file: string): WindowState {
  let state: WindowState = { ...DEFAULT_SIZE, maximized: false };
  try {
    if (existsSync(file)) {
      const parsed = WindowStateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.success) state = parsed.data;
      else console.warn(`ignoring ${file}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    }
  } catch (err) {
    console.warn(`ignoring ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (state.x !== undefined && state.y !== undefined) {
    const bounds: Rectangle = { x: state.x, y: state.y, width: state.width, height: state.height };
    // A display may have been unplugged since: keep the window reachable.
    const visible = screen.getAllDisplays().some(({ workArea: a }) => {
      const w = Math.min(bounds.x + bounds.width, a.x + a.width) - Math.max(bounds.x, a.x);
      const h = Math.min(bounds.y + bounds.height, a.y + a.height) - Math.max(bounds.y, a.y);
      return w >= 100 && h >= 50;
    });
    if (!visible) {
      const { x: _x, y: _y, ...rest } = state;
      state = rest;
    }
  }
  return state;
}

function saveWindowState(file: string, win: BrowserWindow): void {
  if (win.isDestroyed()) return;
  const b = win.getNormalBounds();
  const state: WindowState = { x: b.x, y: b.y, width: b.width, height: b.height, maximized: win.isMaximized() };
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    // Write then rename, so a crash mid-write never leaves a truncated file.
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(tmp, file);
  } catch (err) {
    console.warn(`could not save the window state to ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Whether `url` is our renderer page (used for navigation and the IPC sender check). */
export function isRendererUrl(url: string, source: RendererSource): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  if (source.kind === 'url') return u.origin === new URL(source.url).origin;
  const page = pathToFileURL(source.file);
  return u.protocol === 'file:' && u.pathname === page.pathname;
}

let sessionHardened = false;

/** Denies every permission request (camera, notifications, ...) and drops unexpected web views. */
export function hardenSession(): void {
  if (sessionHardened) return;
  sessionHardened = true;
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
}

export function createMainWindow(options: MainWindowOptions): BrowserWindow {
  const stateFile = options.stateFile ?? defaultStateFile();
  const state = loadWindowState(stateFile);

  const win = new BrowserWindow({
    ...(state.x !== undefined && state.y !== undefined ? { x: state.x, y: state.y } : {}),
    width: state.width,
    height: state.height,
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    show: false,
    title: 'SD4Match Workstation',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#15171c' : '#f6f7f9',
    autoHideMenuBar: true,
    webPreferences: {
      preload: options.preloadPath,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  });

  win.once('ready-to-show', () => {
    if (state.maximized) win.maximize();
    win.show();
  });

  // Pop-ups never open inside the app; web links go to the system browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event, url) => {
    if (!isRendererUrl(url, options.renderer)) event.preventDefault();
  });
  win.webContents.on('will-redirect', (event, url) => {
    if (!isRendererUrl(url, options.renderer)) event.preventDefault();
  });

  let saveTimer: NodeJS.Timeout | null = null;
  const scheduleSave = () => {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = setTimeout(() => saveWindowState(stateFile, win), 500);
  };
  win.on('resize', scheduleSave);
  win.on('move', scheduleSave);
  win.on('maximize', scheduleSave);
  win.on('unmaximize', scheduleSave);
  win.on('close', () => {
    if (saveTimer) clearTimeout(saveTimer);
    saveWindowState(stateFile, win);
  });

  if (options.renderer.kind === 'url') void win.loadURL(options.renderer.url);
  else void win.loadFile(options.renderer.file);
  return win;
}
