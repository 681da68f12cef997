// Caps on open connections, per client address and in total, so a client that opens (or drips on) many
// connections cannot take the descriptors that other addresses need (limits in src/http/limits.ts).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { apiError } from '../api/errors.js';
import { plainAddress } from './request-info.js';

export interface ConnectionCaps {
  perAddress: number;
  total: number;
  /** Addresses exempt from the per-address cap (trusted proxies: all their clients share one address). */
  exempt(address: string): boolean;
}

const BUSY = apiError('server_busy', 'Too many connections are open; try again shortly.');
const BUSY_TEXT = JSON.stringify(BUSY.body);
const BUSY_ANSWER = `HTTP/1.1 ${BUSY.status} Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(BUSY_TEXT)}\r\nConnection: close\r\n\r\n${BUSY_TEXT}`;

/** What one client controls: an IPv4 address, or the /64 network of an IPv6 address. */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address;
  const [left, right = ''] = address.split('::') as [string, string?];
  const head = left === '' ? [] : left.split(':');
  const tail = address.includes('::') && right !== '' ? right.split(':') : [];
  const groups = address.includes('::') ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}

/** Counts connections as they open and close; one over a cap is answered 503 server_busy and closed. */
export class ConnectionGuard {
  private readonly byAddress = new Map<string, number>();
  private open = 0;
  /** Sockets over a cap: their requests are not handled. */
  readonly refused = new WeakSet<Socket>();

  constructor(
    server: Server,
    private readonly caps: ConnectionCaps,
    private readonly log: Logger,
  ) {
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  private admit(socket: Socket): void {
    const address = plainAddress(socket.remoteAddress);
    const key = clientKey(address);
    const mine = this.byAddress.get(key) ?? 0;
    if (this.open >= this.caps.total || (mine >= this.caps.perAddress && !this.caps.exempt(address))) {
      this.refused.add(socket);
      this.log.debug({ address, open: this.open, fromAddress: mine }, 'connection refused: over the connection cap');
      socket.on('error', () => socket.destroy());
      socket.end(BUSY_ANSWER);
      // A client that does not close its end is not waited for.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.open++;
    this.byAddress.set(key, mine + 1);
    socket.once('close', () => {
      this.open--;
      const left = (this.byAddress.get(key) ?? 1) - 1;
      if (left === 0) this.byAddress.delete(key);
      else this.byAddress.set(key, left);
    });
  }
}
