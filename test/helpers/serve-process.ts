/**
 * `sd4match serve` as a real child process (the way a user starts it), for tests that kill the
 * server the way the system or a user would (SIGKILL: no chance to clean up) and start it again
 * on the same database.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { REPO } from './cli.js';

export interface ServeProcess {
  readonly child: ChildProcess;
  /** The page URL with its token, as printed. */
  readonly url: string;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGKILL, then wait until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `sd4match serve --db DB --port P --no-open` (P: `port`, default 0, a free one) and resolves
 * once it prints its URL. Started again on the same database and port, it serves the same URL.
 */
export function startServeProcess(db: string, opts: { env?: Record<string, string>; args?: string[]; timeoutMs?: number; port?: number } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), 'serve', '--db', db, '--port', String(opts.port ?? 0), '--no-open', ...(opts.args ?? [])], {
    cwd: REPO,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its URL in time:\n${out}`));
    }, opts.timeoutMs ?? 60_000);
    const onData = (d: Buffer) => {
      out += String(d);
      const m = /serving at (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1],
          output: () => out,
          async kill(signal = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += String(d)));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}) before printing its URL:\n${out}`));
    });
  });
}

/** A TCP port no one listens on now (for a server that must come back on the same address). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
