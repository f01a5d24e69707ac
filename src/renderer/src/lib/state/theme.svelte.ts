/** Light, dark, or the system's choice; remembered per browser profile / Electron window. */
import { MediaQuery } from 'svelte/reactivity';

export type ThemePreference = 'system' | 'light' | 'dark';
const KEY = 'sd4match.theme';

class Theme {
  preference = $state<ThemePreference>('system');
  private readonly systemDark = new MediaQuery('(prefers-color-scheme: dark)');

  constructor() {
    const saved = localStorage.getItem(KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'system') this.preference = saved;
    this.apply();
  }

  /** The theme in effect. */
  get effective(): 'light' | 'dark' {
    if (this.preference !== 'system') return this.preference;
    return this.systemDark.current ? 'dark' : 'light';
  }

  set(preference: ThemePreference): void {
    this.preference = preference;
    localStorage.setItem(KEY, preference);
    this.apply();
  }

  /** Flips between light and dark (the top bar's button). */
  toggle(): void {
    this.set(this.effective === 'dark' ? 'light' : 'dark');
  }

  private apply(): void {
    const root = document.documentElement;
    if (this.preference === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.preference;
  }
}

export const theme = new Theme();
