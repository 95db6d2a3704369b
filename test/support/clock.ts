/**
 * A clock a test moves by hand, for the app's `now` (`useTestApp({ overrides: { now } })`):
 * every use case and the fulfillment process read it. It stands still until moved; with a
 * `stepMs`, every reading also moves it on by that much, so that each reading is a later
 * instant than the one before, whoever reads it and however fast, without the test racing
 * the app's background work.
 */
export class TestClock {
  private at: number;

  constructor(
    start: string,
    private readonly stepMs = 0,
  ) {
    this.at = Date.parse(start);
  }

  /** The time now; then moves on by the step. */
  readonly now = (): Date => {
    const t = new Date(this.at);
    this.at += this.stepMs;
    return t;
  };

  set(at: string): void {
    this.at = Date.parse(at);
  }

  advance(ms: number): void {
    this.at += ms;
  }
}
