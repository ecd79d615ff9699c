/**
 * Collects ClickHouse query parameters while SQL text is assembled: every value the
 * client sent goes into `values` and the text only ever holds `{pN:Type}`
 * placeholders, so no client byte is ever parsed as SQL.
 */
export class QueryParams {
  readonly values: Record<string, unknown> = {};
  private next = 0;

  /** Register `value` and return its placeholder. `type` is a constant from our code. */
  add(type: string, value: unknown): string {
    const name = `p${this.next}`;
    this.next += 1;
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}
