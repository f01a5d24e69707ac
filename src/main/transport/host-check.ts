/**
 * Which Host headers the browser-mode server answers to (DNS rebinding): a page of another site
 * whose name is made to resolve to this machine reaches the server with its own name in the Host
 * header, and must get nothing from it. The server answers only to the names it was started for:
 * the address it listens on; the loopback names (127.0.0.1, localhost, [::1]) when that is
 * loopback or every interface; for every interface also this machine's addresses and host name;
 * and any name passed explicitly (`sd4match serve --allowed-host NAME[:PORT]`, for a DNS name or an
 * SSH tunnel) — each with the port it listens on unless one is given.
 */
import os from 'node:os';
import { AppError } from '../shared/errors.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/** The HTTP status and the reason a request for another host gets. */
export const MISDIRECTED = {
  status: 421,
  reason: 'Misdirected Request: this server does not answer to that host name (it answers to the address it listens on; add a name with `sd4match serve --allowed-host NAME`)',
} as const;

/** `name` as a Host header writes it: lower case, IPv6 addresses in brackets, normalised as URLs are. */
function hostName(name: string): string {
  const bare = name.replace(/^\[|\]$/g, '').toLowerCase();
  const written = bare.includes(':') ? `[${bare}]` : bare;
  try {
    return new URL(`http://${written}`).hostname;
  } catch {
    return written;
  }
}

/**
 * A host with an optional port (`name`, `name:port`, `[v6]:port`), its name normalised as a
 * browser's URL parser does before sending it; null when it is anything else (user, path, spaces).
 */
function splitHost(value: string): { name: string; port: number | null } | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+)(?::(\d{1,5}))?$/.exec(value);
  if (!m) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  try {
    return { name: new URL(`http://${m[1]!}`).hostname, port };
  } catch {
    return null;
  }
}

/** A Host header as `name:port` (no port: 80, as HTTP means it), or null when it is not a host. */
export function parseHost(header: string): string | null {
  const h = splitHost(header);
  return h && `${h.name}:${h.port ?? 80}`;
}

/**
 * Every `name:port` the server answers to, bound to `host` on `port`, with `extra` names
 * (`NAME`: on the server's port; `NAME:PORT`: as seen through a tunnel or a proxy). Throws
 * INVALID_ARGUMENT naming an extra entry that is not a host.
 */
export function allowedHosts(host: string, port: number, extra: readonly string[] = []): Set<string> {
  const names = new Set<string>();
  if (!WILDCARD.has(host)) names.add(hostName(host));
  if (LOOPBACK.has(host) || WILDCARD.has(host)) for (const h of ['127.0.0.1', 'localhost', '::1']) names.add(hostName(h));
  if (WILDCARD.has(host)) {
    for (const list of Object.values(os.networkInterfaces())) for (const nic of list ?? []) names.add(hostName(nic.address));
    names.add(hostName(os.hostname()));
  }
  const allowed = new Set([...names].map((n) => `${n}:${port}`));
  for (const e of extra) {
    const h = splitHost(e.trim());
    if (h === null) throw new AppError('INVALID_ARGUMENT', `allowed host '${e}' is not a host name (NAME or NAME:PORT, e.g. workstation.lan or localhost:8080)`);
    allowed.add(`${h.name}:${h.port ?? port}`);
  }
  return allowed;
}

/** Whether a request's Host header names one of `allowed` (a request without one is refused). */
export function hostAllowed(header: string | string[] | undefined, allowed: ReadonlySet<string>): boolean {
  if (typeof header !== 'string') return false;
  const parsed = parseHost(header);
  return parsed !== null && allowed.has(parsed);
}

/** The origins pages served under `allowed` host names have (`http://name[:port]`), for the WebSocket Origin check. */
export function originsOf(allowed: ReadonlySet<string>): string[] {
  return [...allowed].map((hp) => new URL(`http://${hp}`).origin);
}
