// Geometry of a virtualized list with rows of different, measured heights. Rows are identified by
// a stable key (the message seq), so heights survive pages being prepended; unmeasured rows use an
// estimate until the DOM reports their real size. Pure: the Timeline component does the DOM work.

export interface VisibleRange {
  /** First index to render (inclusive). */
  start: number;
  /** One past the last index to render. */
  end: number;
}

export interface ScrollAnchor {
  key: number;
  /** Distance from the viewport top to the row's top (negative when the row starts above). */
  delta: number;
}

export class RowHeights {
  private keys: readonly number[] = [];
  private readonly measured = new Map<number, number>();
  /** offsets[i] = top of row i; offsets[n] = total height. Rebuilt lazily after changes. */
  private offsets = new Float64Array(1);
  private dirty = false;

  constructor(private readonly estimate: number) {}

  get count(): number {
    return this.keys.length;
  }

  /** Adopt a new row order (after loading, prepending or appending rows). */
  setKeys(keys: readonly number[]): void {
    this.keys = keys;
    if (this.measured.size > keys.length * 2 + 256) {
      // Forget rows that are gone, so a long session does not keep every height forever.
      const live = new Set(keys);
      for (const k of this.measured.keys()) if (!live.has(k)) this.measured.delete(k);
    }
    this.dirty = true;
  }

  /** Record a measured height; returns whether the layout changed. */
  measure(key: number, height: number): boolean {
    if (!(height >= 0) || this.measured.get(key) === height) return false;
    this.measured.set(key, height);
    this.dirty = true;
    return true;
  }

  keyAt(index: number): number {
    return this.keys[index];
  }

  indexOfKey(key: number): number {
    // Keys are ascending (seq order), so a binary search finds it.
    let lo = 0;
    let hi = this.keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = this.keys[mid];
      if (k === key) return mid;
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  heightAt(index: number): number {
    return this.measured.get(this.keys[index]) ?? this.estimate;
  }

  offsetOf(index: number): number {
    this.rebuild();
    return this.offsets[Math.max(0, Math.min(index, this.keys.length))];
  }

  get total(): number {
    this.rebuild();
    return this.offsets[this.keys.length];
  }

  /** Index of the row covering vertical position `y` (clamped to the list). */
  indexAt(y: number): number {
    this.rebuild();
    const n = this.keys.length;
    if (n === 0) return 0;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Rows intersecting [scrollTop - overscan, scrollTop + viewport + overscan]. */
  range(scrollTop: number, viewport: number, overscan: number): VisibleRange {
    const n = this.keys.length;
    if (n === 0) return { start: 0, end: 0 };
    const start = this.indexAt(Math.max(0, scrollTop - overscan));
    const end = Math.min(n, this.indexAt(scrollTop + viewport + overscan) + 1);
    return { start, end };
  }

  /** The row at the top of the viewport, to keep it in place across layout changes. */
  anchorAt(scrollTop: number): ScrollAnchor | null {
    if (this.keys.length === 0) return null;
    const i = this.indexAt(scrollTop);
    return { key: this.keys[i], delta: this.offsetOf(i) - scrollTop };
  }

  /** The scrollTop that puts the anchor row back where it was, or null if it is gone. */
  scrollTopFor(anchor: ScrollAnchor): number | null {
    const i = this.indexOfKey(anchor.key);
    return i < 0 ? null : this.offsetOf(i) - anchor.delta;
  }

  private rebuild(): void {
    if (!this.dirty) return;
    const n = this.keys.length;
    if (this.offsets.length !== n + 1) this.offsets = new Float64Array(n + 1);
    let y = 0;
    for (let i = 0; i < n; i++) {
      this.offsets[i] = y;
      y += this.measured.get(this.keys[i]) ?? this.estimate;
    }
    this.offsets[n] = y;
    this.dirty = false;
  }
}
