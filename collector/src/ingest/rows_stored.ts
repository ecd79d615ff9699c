import type { SessionRow } from '../store/store.js';

export type RowsStoredListener = (rows: readonly SessionRow[]) => void;

/**
 * In-process fan-out of rows ClickHouse accepted (for the WebSocket live tail). A
 * listener runs synchronously after each insert and must not block: it copies what it
 * needs into its own bounded buffer. A listener that throws is reported, not removed.
 */
export class RowsStored {
  private readonly listeners = new Set<RowsStoredListener>();

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  /** Register; returns the unsubscribe function. */
  on(listener: RowsStoredListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(rows: readonly SessionRow[]): void {
    if (rows.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(rows);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
