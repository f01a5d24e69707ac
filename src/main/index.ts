/**
 * Electron entry: application lifecycle only. Wires the window (electron/window.ts) and the IPC
 * adapter (electron/ipc.ts) to the transport-agnostic API (api/handlers.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow } from 'electron';
import { createApi } from './api/handlers.js';
import { handleImageProtocol, registerImageScheme } from './electron/image-protocol.js';
import { registerIpc } from './electron/ipc.js';
import { openStoreOrExplain } from './electron/store-check.js';
import { utilityLauncher } from './electron/job-process.js';
import { createMainWindow, hardenSession, isRendererUrl, type RendererSource } from './electron/window.js';

// Built layout: out/main/index.js, out/preload/index.cjs, out/renderer/index.html.
const here = path.dirname(fileURLToPath(import.meta.url));
const preloadPath = path.join(here, '../preload/index.cjs');
const devServerUrl = process.env.ELECTRON_RENDERER_URL;
const renderer: RendererSource = !app.isPackaged && devServerUrl ? { kind: 'url', url: devServerUrl } : { kind: 'file', file: path.join(here, '../renderer/index.html') };

// Every renderer runs sandboxed, whatever a window's own preferences say.
app.enableSandbox();
// Images of the store reach the page as sd4match-image://image/<id> (registered before ready).
registerImageScheme();

let mainWindow: BrowserWindow | null = null;

function openMainWindow(): void {
  mainWindow = createMainWindow({ preloadPath, renderer });
  mainWindow.on('closed', () => {
    mainWindow = null;
  });
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // ONNX Runtime jobs run in utility processes (out/main/job-process.js), each hosting the job's
  // worker thread (out/main/worker.js; see electron.vite.config.ts): one killed for memory fails
  // its job and leaves the window, the store and the other jobs running
  const api = createApi({
    jobRuntime: () => ({
      launcher: utilityLauncher,
      entry: { file: path.join(here, 'job-process.js') },
      worker: { file: new URL('./worker.js', import.meta.url) },
    }),
  });
  let quitting = false;
  let disposeIpc: (() => void) | null = null;
  let disposeImages: (() => void) | null = null;

  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  app
    .whenReady()
    .then(() => {
      hardenSession();
      // a damaged database is explained in a dialog (with its backup) before any window opens
      if (!openStoreOrExplain(api)) return;
      disposeImages = handleImageProtocol(api);
      disposeIpc = registerIpc(api, {
        getWindow: () => mainWindow,
        isRendererUrl: (url) => isRendererUrl(url, renderer),
      });
      openMainWindow();
      app.on('activate', () => {
        if (BrowserWindow.getAllWindows().length === 0) openMainWindow();
      });
    })
    .catch((err: unknown) => {
      console.error('SD4Match Workstation failed to start:', err);
      app.exit(1);
    });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  // Quitting during a run: stop jobs after their current step (training checkpoints, so the run
  // stays resumable), close the store, then quit for real.
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    api
      .close()
      .catch((err: unknown) => console.error('stopping jobs failed:', err))
      .finally(() => app.quit());
  });

  app.on('will-quit', () => {
    disposeIpc?.();
    disposeIpc = null;
    disposeImages?.();
    disposeImages = null;
  });
}
