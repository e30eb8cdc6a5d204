// Windowing for long lists that scroll with the page (the sidebar's document is the scroller, and several
// lists share it). Only the items near the viewport are in the DOM; the list's padding stands in for the
// rest. Item heights vary (expanded text, diffs), so every rendered item is measured with a
// ResizeObserver and the average of the measured ones estimates the others.
//
// Padding is set through the CSSOM (el.style.paddingTop), never a style attribute: the webview's CSP has
// no 'unsafe-inline'.

export interface ListWindow {
  start: number;
  end: number;
  padTop: number;
  padBottom: number;
  /** Where the list's top is, relative to the viewport (measured, or the caller's estimate). */
  top: number;
  /** The list's whole height (measured and estimated items). */
  height: number;
}

/** A point to keep still across a re-render: the item at the viewport's top and how far into it. */
export interface Anchor {
  key: string;
  within: number;
}

/** Rendered beyond the viewport on each side, in px: enough for Tab to reach the next item. */
const OVERSCAN_PX = 400;
/** How far from the window a focused item may be and still be kept rendered. */
const KEEP_FOCUSED_MAX = 200;

export class VirtualList {
  private el: HTMLElement | null = null;
  private readonly heights = new Map<string, number>();
  private measuredSum = 0;
  private measuredCount = 0;
  private readonly observed = new Set<Element>();
  private readonly ro: ResizeObserver;
  private last: ListWindow = { start: 0, end: 0, padTop: 0, padBottom: 0, top: 0, height: 0 };
  /** The keys and the estimate the current padding was computed from. */
  private keys: readonly string[] = [];
  private lastEst = 0;

  constructor(
    private fallbackEstimate: number,
    private readonly onMeasured: () => void,
  ) {
    this.ro = new ResizeObserver((entries) => {
      let changed = false;
      for (const e of entries) {
        const key = (e.target as HTMLElement).dataset.key;
        if (key === undefined || !e.target.isConnected) continue;
        const h = e.borderBoxSize?.[0]?.blockSize ?? e.contentRect.height;
        if (h <= 0) continue; // hidden (collapsed section)
        const old = this.heights.get(key);
        if (old === undefined || Math.abs(old - h) > 0.5) {
          this.measuredSum += h - (old ?? 0);
          if (old === undefined) this.measuredCount += 1;
          this.heights.set(key, h);
          changed = true;
        }
      }
      if (changed) this.onMeasured();
    });
  }

  get estimate(): number {
    return this.measuredCount > 0 ? this.measuredSum / this.measuredCount : this.fallbackEstimate;
  }

  /** Lit `ref` callback for the list element. */
  readonly ref = (el: Element | undefined): void => {
    this.el = (el as HTMLElement | undefined) ?? null;
  };

  /** Forget measured heights (e.g. the view was resized and text rewraps). */
  invalidate(): void {
    this.fallbackEstimate = this.estimate;
    this.heights.clear();
    this.measuredSum = 0;
    this.measuredCount = 0;
  }

  private heightOf(key: string, est: number): number {
    return this.heights.get(key) ?? est;
  }

  /**
   * The window of items to render, from where the list sits in the viewport now.
   * `keep` is the index of an item that holds keyboard focus: it stays rendered. `estimatedTop` is where
   * the caller expects the list to start (viewport-relative) while it is not in the DOM yet.
   */
  compute(keys: readonly string[], keep = -1, estimatedTop = 0, anchor: Anchor | null = null): ListWindow {
    const n = keys.length;
    const vh = window.innerHeight || document.documentElement.clientHeight || 800;
    const est = this.estimate;
    let top = this.el?.isConnected ? this.el.getBoundingClientRect().top : estimatedTop;
    if (anchor) {
      // The page will be scrolled to keep the anchor item where it is (App.keepAnchor), so place the
      // window where the list will be then: with today's estimates, not the ones its padding was made of.
      const ai = keys.indexOf(anchor.key);
      if (ai >= 0) {
        let off = 0;
        for (let j = 0; j < ai; j++) off += this.heightOf(keys[j]!, est);
        top = -anchor.within - off;
      }
    }
    const from = -top - OVERSCAN_PX;
    const to = -top + vh + OVERSCAN_PX;
    let offset = 0;
    let start = n;
    let padTop = 0;
    let end = n;
    let i = 0;
    for (; i < n; i++) {
      const h = this.heightOf(keys[i]!, est);
      if (offset + h > from) {
        start = i;
        padTop = offset;
        break;
      }
      offset += h;
    }
    if (start === n) padTop = offset;
    for (; i < n; i++) {
      if (offset >= to) {
        end = i;
        break;
      }
      offset += this.heightOf(keys[i]!, est);
    }
    if (keep >= 0 && keep < n && (keep < start || keep >= end)) {
      if (keep < start && start - keep <= KEEP_FOCUSED_MAX) {
        for (let j = keep; j < start; j++) padTop -= this.heightOf(keys[j]!, est);
        start = keep;
      } else if (keep >= end && keep - end < KEEP_FOCUSED_MAX) {
        end = keep + 1;
      }
    }
    let total = padTop;
    for (let j = start; j < n; j++) total += this.heightOf(keys[j]!, est);
    let rendered = 0;
    for (let j = start; j < end; j++) rendered += this.heightOf(keys[j]!, est);
    const padBottom = Math.max(0, total - padTop - rendered);
    this.last = { start, end, padTop: Math.max(0, padTop), padBottom, top, height: total };
    this.keys = keys;
    this.lastEst = est;
    if (this.heights.size > 2 * n + 100) this.prune(keys);
    return this.last;
  }

  /** After lit rendered the window: apply the padding and measure the new items. */
  afterRender(): void {
    const el = this.el;
    if (!el) return;
    const { padTop, padBottom } = this.last;
    const pt = `${Math.round(padTop)}px`;
    const pb = `${Math.round(padBottom)}px`;
    if (el.style.paddingTop !== pt) el.style.paddingTop = pt;
    if (el.style.paddingBottom !== pb) el.style.paddingBottom = pb;
    for (const child of el.children) {
      if (!this.observed.has(child)) {
        this.observed.add(child);
        this.ro.observe(child);
      }
    }
    if (this.observed.size > el.children.length) {
      for (const child of this.observed) {
        if (child.parentElement !== el) {
          this.ro.unobserve(child);
          this.observed.delete(child);
        }
      }
    }
  }

  /**
   * When the viewport's top edge falls inside this list: which item is there and how far into it, so
   * that a re-render (new estimates, new items above) can keep that spot still. Null otherwise.
   */
  anchor(): Anchor | null {
    const el = this.el;
    if (!el?.isConnected || this.keys.length === 0) return null;
    const r = el.getBoundingClientRect();
    if (!(r.top < 0 && r.bottom > 0)) return null;
    for (const child of el.children) {
      const cr = child.getBoundingClientRect();
      const key = (child as HTMLElement).dataset.key;
      if (key !== undefined && cr.top <= 0 && cr.bottom > 0) return { key, within: -cr.top };
    }
    const y = -r.top;
    const { start, end, padTop } = this.last;
    const keys = this.keys;
    const est = this.lastEst;
    let off: number;
    let from: number;
    let to: number;
    if (y < padTop) {
      off = 0;
      from = 0;
      to = start;
    } else {
      const lastChild = el.lastElementChild;
      off = lastChild ? lastChild.getBoundingClientRect().bottom - r.top : padTop;
      from = end;
      to = keys.length;
    }
    for (let i = from; i < to; i++) {
      const h = this.heightOf(keys[i]!, est);
      if (off + h > y) return { key: keys[i]!, within: y - off };
      off += h;
    }
    return null;
  }

  /** The viewport-relative top of item `key` as laid out now (measured if rendered, else from the padding). */
  topOf(key: string): number | null {
    const el = this.el;
    if (!el?.isConnected) return null;
    for (const child of el.children) if ((child as HTMLElement).dataset.key === key) return child.getBoundingClientRect().top;
    const i = this.keys.indexOf(key);
    if (i < 0) return null;
    const r = el.getBoundingClientRect();
    const { start, end } = this.last;
    const est = this.lastEst;
    if (i < start) {
      let off = 0;
      for (let j = 0; j < i; j++) off += this.heightOf(this.keys[j]!, est);
      return r.top + off;
    }
    const lastChild = el.lastElementChild;
    let off = lastChild ? lastChild.getBoundingClientRect().bottom : r.top + this.last.padTop;
    for (let j = end; j < i; j++) off += this.heightOf(this.keys[j]!, est);
    return off;
  }

  /** Document-relative y of item `index`'s top, for scrolling to an item that may not be rendered. */
  offsetOf(keys: readonly string[], index: number): number | null {
    if (!this.el?.isConnected) return null;
    const est = this.estimate;
    let y = 0;
    for (let j = 0; j < index && j < keys.length; j++) y += this.heightOf(keys[j]!, est);
    return this.el.getBoundingClientRect().top + window.scrollY + y;
  }

  private prune(keys: readonly string[]): void {
    const live = new Set(keys);
    for (const [k, h] of this.heights) {
      if (live.has(k)) continue;
      this.heights.delete(k);
      this.measuredSum -= h;
      this.measuredCount -= 1;
    }
  }
}
