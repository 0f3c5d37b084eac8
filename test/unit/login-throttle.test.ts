import { LoginThrottle } from '../../api/auth/login-throttle';

describe('LoginThrottle', () => {
  let now = 0;
  const throttle = () => new LoginThrottle({ maxFailures: 5, windowMs: 300_000, now: () => now });
  beforeEach(() => {
    now = 1_000_000;
  });

  test('five failures lock the username until the oldest leaves the window; a success clears it', () => {
    const t = throttle();
    for (let i = 0; i < 4; i++) t.recordFailure('ann', `10.0.0.${i}`);
    expect(t.retryAfterSeconds('ann', '10.0.0.9')).toBe(0);
    now += 10_000;
    t.recordFailure('ann', '10.0.0.4');
    // The first failure was 10 s before the fifth: it leaves the 300 s window 290 s from now.
    expect(t.retryAfterSeconds('ann', '10.0.0.9')).toBe(290);
    expect(t.retryAfterSeconds('bob', '10.0.0.9')).toBe(0);
    now += 290_000;
    expect(t.retryAfterSeconds('ann', '10.0.0.9')).toBe(0);
    t.recordSuccess('ann');
    t.recordFailure('ann', '10.0.0.9');
    expect(t.retryAfterSeconds('ann', '10.0.0.9')).toBe(0);
  });

  test('one address gets five times as many failures, across usernames', () => {
    const t = throttle();
    for (let i = 0; i < 24; i++) t.recordFailure(`user${i}`, '192.0.2.1');
    expect(t.retryAfterSeconds('someone', '192.0.2.1')).toBe(0);
    t.recordFailure('user24', '192.0.2.1');
    expect(t.retryAfterSeconds('someone', '192.0.2.1')).toBe(300);
    expect(t.retryAfterSeconds('someone', '192.0.2.2')).toBe(0);
    // A right password clears the username's count, not the address's.
    t.recordSuccess('someone');
    expect(t.retryAfterSeconds('someone', '192.0.2.1')).toBe(300);
  });
});
