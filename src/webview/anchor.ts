// Keeping what the user is reading still across re-renders: new estimates of unrendered items'
// heights, items added above, or folded text change what lies above it; the page is scrolled
// afterwards so that it stays where it was.
import type { VirtualList } from "./virtual-list.js";
import { SECTIONS, type SectionId } from "./vscode.js";

export type Anchor = { section: SectionId; key: string; within: number } | { el: Element; top: number };

/** What is at the top of the viewport before a re-render. (At the very top nothing is kept: new approvals should come into view.) */
export function captureAnchor(lists: Record<SectionId, VirtualList>, root: HTMLElement): Anchor | null {
  if (window.scrollY <= 0) return null;
  for (const id of SECTIONS) {
    const a = lists[id].anchor();
    if (a) return { section: id, ...a };
  }
  for (const el of root.querySelectorAll("section.section")) {
    const r = el.getBoundingClientRect();
    if (r.bottom > 0) return { el, top: r.top };
  }
  return null;
}

/** Scrolls so the anchor is where it was; true when it had moved. */
export function keepAnchor(lists: Record<SectionId, VirtualList>, anchor: Anchor | null): boolean {
  if (!anchor) return false;
  let delta = 0;
  if ("el" in anchor) {
    if (anchor.el.isConnected) delta = anchor.el.getBoundingClientRect().top - anchor.top;
  } else {
    const top = lists[anchor.section].topOf(anchor.key);
    if (top !== null) delta = top + anchor.within;
  }
  if (Math.abs(delta) < 1) return false;
  const before = window.scrollY;
  window.scrollBy(0, delta);
  return window.scrollY !== before;
}
