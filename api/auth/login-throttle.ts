/**
 * Slows password guessing: after `maxFailures` wrong passwords for one username, or five times as
 * many from one client address, within `windowMs`, further attempts are refused until the oldest
 * failure leaves the window. Kept in the API process's memory (each replica counts its own).
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly opts: { maxFailures: number; windowMs: number; now?: () => number } = { maxFailures: 5, windowMs: 5 * 60_000 },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.opts.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (times.length === 0) this.failures.delete(key);
    else this.failures.set(key, times);
    return times;
  }

  private limitOf(key: string): number {
    return key.startsWith('ip:') ? this.opts.maxFailures * 5 : this.opts.maxFailures;
  }

  /** Seconds until an attempt is allowed again, or 0 when it is allowed now. */
  retryAfterSeconds(username: string, clientIp: string): number {
    let wait = 0;
    for (const key of [`user:${username}`, `ip:${clientIp}`]) {
      const times = this.recent(key);
      const limit = this.limitOf(key);
      if (times.length >= limit) {
        const oldestCounted = times[times.length - limit] as number;
        wait = Math.max(wait, Math.ceil((oldestCounted + this.opts.windowMs - this.now()) / 1000));
      }
    }
    return wait;
  }

  recordFailure(username: string, clientIp: string): void {
    for (const key of [`user:${username}`, `ip:${clientIp}`]) this.failures.set(key, [...this.recent(key), this.now()]);
  }

  /** A right password clears the username's count (not the address's). */
  recordSuccess(username: string): void {
    this.failures.delete(`user:${username}`);
  }
}
