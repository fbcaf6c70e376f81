/**
 * An accumulator of denial reasons for rules that check several independent constraints, so a
 * user sees every problem of a manifest at once. The first rule id that failed labels the metric.
 */
import { allow, deny, type Decision } from '../decision.ts';

/** Collects (rule, reason) pairs; {@link Denials.decision} turns them into a {@link Decision}. */
export class Denials {
  private readonly items: { rule: string; reason: string }[] = [];

  /** Records one broken constraint. */
  add(rule: string, reason: string): void {
    this.items.push({ rule, reason });
  }

  /** True when nothing was recorded. */
  get empty(): boolean {
    return this.items.length === 0;
  }

  /** Allowed when empty, else denied by the first rule with every reason in order. */
  decision(): Decision {
    const first = this.items[0];
    if (!first) return allow();
    return deny(first.rule, ...this.items.map((i) => i.reason));
  }
}

/** JSON text of a value for messages (`null`, `"x"`, `{"a":"b"}`). */
export function show(value: unknown): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}
