/**
 * The engine's file system, as the path inputs browse it: folders on the engine's machine (which
 * is not the window's in browser mode), so a path typed or picked is one the engine can open.
 */
import type { DirectoryListing } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';

class Files {
  /**
   * A folder's subfolders, and its files of a kind (`json`) or none; the home folder without
   * `dir`. Rejects with the engine's error (the picker shows it in place).
   */
  list(dir: string | undefined, files: 'none' | 'json' | 'all'): Promise<DirectoryListing> {
    return getApi().invoke('files:list', { ...(dir ? { dir } : {}), files });
  }
}

export const files = new Files();
