/**
 * A clock the test moves by hand, so expiry and TTLs are tested without sleeping.
 *
 * It starts at the real time (to the second), never at a literal date: DynamoDB Local's TTL
 * deletes items on the real clock, so events stamped with a fixed date expire for real a
 * retention period after that date, and every test on them fails from then on.
 */
export class FakeClock {
  constructor(public now: number = Math.floor(Date.now() / 1000) * 1000) {}

  readonly read = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }
}
