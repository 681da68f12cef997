// One installation at a time across every instance on the database: a lease, renewed while the run goes on.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { LeaseStore } from '../store/types.js';

const INSTALL_LEASE = 'installer';
const LEASE_SECONDS = 120;

export interface HeldLock {
  release(): Promise<void>;
}

export class InstallLock {
  constructor(
    private readonly leases: LeaseStore,
    private readonly log: Logger,
  ) {}

  /** Takes the installer lease and keeps renewing it until released; null while another run holds it. */
  async acquire(): Promise<HeldLock | null> {
    const owner = randomUUID();
    if (!(await this.leases.acquire(INSTALL_LEASE, owner, LEASE_SECONDS))) return null;
    const renew = setInterval(() => {
      // One failed renewal is survivable (the lease lasts four renewal periods); a run of them is worth knowing.
      this.leases.acquire(INSTALL_LEASE, owner, LEASE_SECONDS).catch((err: unknown) => this.log.warn({ err }, 'renewing the installer lease failed; trying again at the next renewal'));
    }, (LEASE_SECONDS * 1000) / 4);
    return {
      release: async () => {
        clearInterval(renew);
        await this.leases.release(INSTALL_LEASE, owner);
      },
    };
  }
}
