// The rate limits of logins, registrations and password changes (docs/COMPATIBILITY.md lists the reference's).
import type { RateLimitRule } from '../cluster/rate-limits.js';

export const RATE_LIMITS = {
  loginByAddress: { name: 'login-address', max: 5, periodMs: 60_000 },
  loginByUser: { name: 'login-user', max: 15, periodMs: 60_000 },
  passwordChange: { name: 'password-change', max: 5, periodMs: 60_000 },
} as const satisfies Record<string, RateLimitRule>;
