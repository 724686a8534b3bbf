/** A clock the test moves by hand, so expiry and TTLs are tested without sleeping. */
export class FakeClock {
  constructor(public now: number = Date.UTC(2026, 10, 27, 12, 0, 0)) {}

  readonly read = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }
}
