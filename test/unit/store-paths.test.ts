import { describe, expect, it } from 'vitest';
import { appCacheDir, appDataDir, resolveStoreLocation } from '../../src/main/store/paths.js';

describe('store paths', () => {
  it('uses XDG folders on Linux, falling back to ~/.local/share and ~/.cache', () => {
    expect(appDataDir({ platform: 'linux', env: {}, home: '/home/ada' })).toBe('/home/ada/.local/share/sd4match-workstation');
    expect(appDataDir({ platform: 'linux', env: { XDG_DATA_HOME: '/data' }, home: '/home/ada' })).toBe('/data/sd4match-workstation');
    expect(appDataDir({ platform: 'linux', env: { XDG_DATA_HOME: 'relative' }, home: '/home/ada' })).toBe('/home/ada/.local/share/sd4match-workstation');
    expect(appCacheDir({ platform: 'linux', env: { XDG_CACHE_HOME: '/c' }, home: '/home/ada' })).toBe('/c/sd4match-workstation');
  });

  it('uses Application Support on macOS and %APPDATA% on Windows', () => {
    expect(appDataDir({ platform: 'darwin', env: {}, home: '/Users/ada' })).toBe('/Users/ada/Library/Application Support/SD4Match Workstation');
    expect(appCacheDir({ platform: 'darwin', env: {}, home: '/Users/ada' })).toBe('/Users/ada/Library/Caches/SD4Match Workstation');
    expect(appDataDir({ platform: 'win32', env: { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, home: 'C:\\Users\\ada' })).toBe('C:\\Users\\ada\\AppData\\Roaming\\SD4Match Workstation');
    expect(appCacheDir({ platform: 'win32', env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, home: 'C:\\Users\\ada' })).toBe('C:\\Users\\ada\\AppData\\Local\\SD4Match Workstation\\Cache');
  });

  it('prefers --db, then SD4MATCH_DB, then the default; an explicit database keeps its cache beside it', () => {
    const p = { platform: 'linux' as const, home: '/home/ada' };
    expect(resolveStoreLocation('/tmp/x.db', { ...p, env: { SD4MATCH_DB: '/e.db' } })).toEqual({ db: '/tmp/x.db', cacheDir: '/tmp/x.db-cache', source: 'option' });
    expect(resolveStoreLocation(undefined, { ...p, env: { SD4MATCH_DB: '/e.db' } })).toEqual({ db: '/e.db', cacheDir: '/e.db-cache', source: 'env' });
    expect(resolveStoreLocation(undefined, { ...p, env: {} })).toEqual({
      db: '/home/ada/.local/share/sd4match-workstation/workstation.db',
      cacheDir: '/home/ada/.cache/sd4match-workstation',
      source: 'default',
    });
    expect(resolveStoreLocation(undefined, { ...p, env: { SD4MATCH_CACHE: '/cache' } }).cacheDir).toBe('/cache');
  });
});
