/** Toast notifications: errors with the engine's message, and short confirmations. */

export type ToastKind = 'error' | 'info' | 'success';

export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  message: string;
}

const LIFETIME_MS: Record<ToastKind, number> = { error: 12_000, info: 5000, success: 4000 };
const MAX_TOASTS = 5;

class Toasts {
  items = $state<Toast[]>([]);
  private next = 1;
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();

  push(kind: ToastKind, title: string, message = ''): number {
    // The same error twice in a row (a retry loop, a repeated key press) shows once.
    const last = this.items.at(-1);
    if (last && last.kind === kind && last.title === title && last.message === message) {
      this.arm(last.id, kind);
      return last.id;
    }
    const id = this.next++;
    this.items = [...this.items.slice(-(MAX_TOASTS - 1)), { id, kind, title, message }];
    this.arm(id, kind);
    return id;
  }

  error(title: string, message = ''): number {
    return this.push('error', title, message);
  }

  success(title: string, message = ''): number {
    return this.push('success', title, message);
  }

  info(title: string, message = ''): number {
    return this.push('info', title, message);
  }

  dismiss(id: number): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.items = this.items.filter((x) => x.id !== id);
  }

  /** Keeps a toast while the pointer is over it. */
  hold(id: number): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  release(id: number): void {
    const toast = this.items.find((x) => x.id === id);
    if (toast) this.arm(id, toast.kind);
  }

  private arm(id: number, kind: ToastKind): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.set(
      id,
      setTimeout(() => this.dismiss(id), LIFETIME_MS[kind]),
    );
  }
}

export const toasts = new Toasts();
