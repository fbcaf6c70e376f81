/**
 * Progress lines of `hybridnet sandbox`: one line per step with the elapsed time since the command started, e.g.
 * `[sandbox +12.3s] control plane: kube-apiserver ready (2.8s)`.
 */

/** Writes progress lines; `step` starts a timed step, `done` ends it with its duration. */
export class Progress {
  private readonly t0 = Date.now();
  private stepStart = Date.now();

  constructor(private readonly write: (line: string) => void = (l) => process.stderr.write(l + '\n')) {}

  private stamp(): string {
    return `[sandbox +${((Date.now() - this.t0) / 1000).toFixed(1)}s]`;
  }

  /** Starts a step. */
  step(what: string): void {
    this.stepStart = Date.now();
    this.write(`${this.stamp()} ${what} …`);
  }

  /** Ends the current step. */
  done(what: string): void {
    this.write(`${this.stamp()} ${what} (${((Date.now() - this.stepStart) / 1000).toFixed(1)}s)`);
  }

  /** A line inside a step. */
  detail(what: string): void {
    this.write(`${this.stamp()}   ${what}`);
  }

  /** Seconds since the command started. */
  elapsedSeconds(): number {
    return (Date.now() - this.t0) / 1000;
  }
}
