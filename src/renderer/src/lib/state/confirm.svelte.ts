/** A promise-based confirmation dialog (rendered once by lib/ui/ConfirmHost.svelte). */

export interface ConfirmRequest {
  title: string;
  message: string;
  confirmLabel: string;
  danger: boolean;
  resolve: (ok: boolean) => void;
}

class Confirmer {
  current = $state<ConfirmRequest | null>(null);

  ask(options: { title: string; message: string; confirmLabel?: string; danger?: boolean }): Promise<boolean> {
    this.current?.resolve(false);
    return new Promise((resolve) => {
      this.current = { title: options.title, message: options.message, confirmLabel: options.confirmLabel ?? 'OK', danger: options.danger ?? false, resolve };
    });
  }

  answer(ok: boolean): void {
    const c = this.current;
    this.current = null;
    c?.resolve(ok);
  }
}

export const confirmer = new Confirmer();
