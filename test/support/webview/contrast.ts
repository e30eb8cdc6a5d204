// WCAG 2 contrast of the text on every badge and button of the sidebar, computed in the page from
// the styles the browser resolved (the theme's --vscode-* variables through our CSS and the
// @vscode-elements components' shadow styles). Used by the harness tests (test/webview) and by the
// UI suite in the real VS Code (test/ui), where VS Code itself supplies the theme.

export interface ContrastSample {
  /** What was measured, e.g. "button Approve" or "badge sh". */
  what: string;
  fg: string;
  bg: string;
  ratio: number;
}

/** WCAG AA for normal-size text. */
export const AA_TEXT = 4.5;

/**
 * Source of a function run in the page (a string: tsx would wrap named functions in a __name helper
 * that does not exist there). Returns ContrastSample[] for every visible, enabled badge and button
 * that shows text, and of the status words of streams and sessions. The backdrop of an element is its own background composited over its ancestors'
 * (through shadow roots) down to the sidebar's background, which VS Code paints behind the webview; an
 * ancestor's opacity fades text and background into what is behind it.
 */
export const CONTRAST_PROBE = `(() => {
  const parse = (c) => {
    let m = /^rgba?\\(([^)]+)\\)$/.exec(c);
    if (m) { const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    m = /^color\\(srgb ([^)]+)\\)$/.exec(c);
    if (m) { const p = m[1].split(/[\\s\\/]+/).filter(Boolean).map(Number); return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
    return null;
  };
  const over = (top, under) => { const a = top[3]; return [top[0] * a + under[0] * (1 - a), top[1] * a + under[1] * (1 - a), top[2] * a + under[2] * (1 - a), 1]; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const hex = (c) => "#" + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const probe = document.createElement("div");
  probe.style.setProperty("background-color", "var(--vscode-sideBar-background, var(--vscode-editor-background, #ffffff))");
  document.body.appendChild(probe);
  const page = parse(getComputedStyle(probe).backgroundColor) || [255, 255, 255, 1];
  probe.remove();
  const parentOf = (el) => el.parentElement || (el.getRootNode() instanceof ShadowRoot ? el.getRootNode().host : null);
  const backdrop = (el) => {
    const layers = [];
    for (let e = el; e; e = parentOf(e)) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [page[0], page[1], page[2], 1];
    for (const l of layers.reverse()) bg = over(l, bg);
    return bg;
  };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const out = [];
  // An ancestor with opacity < 1 (a faded badge) blends text and background alike into what is behind it.
  const faded = (el) => {
    let op = 1, top = null;
    for (let e = el; e; e = parentOf(e)) { const o = parseFloat(getComputedStyle(e).opacity); if (o < 1) { op *= o; top = e; } }
    return { op, behind: top && parentOf(top) ? backdrop(parentOf(top)) : null };
  };
  const sample = (what, textEl, boxEl) => {
    if (!visible(boxEl)) return;
    let bg = backdrop(boxEl);
    const fgRaw = parse(getComputedStyle(textEl).color);
    if (!fgRaw) return;
    let fg = over(fgRaw, bg);
    const f = faded(textEl);
    if (f.behind) { fg = over([fg[0], fg[1], fg[2], f.op], f.behind); bg = over([bg[0], bg[1], bg[2], f.op], f.behind); }
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push({ what, fg: hex(fg), bg: hex(bg), ratio: Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100 });
  };
  const label = (el) => (el.getAttribute("aria-label") || el.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 60);
  for (const b of document.querySelectorAll("vscode-badge")) { const root = b.shadowRoot && b.shadowRoot.querySelector(".root"); if (root) sample("count badge " + label(b), root, root); }
  for (const b of document.querySelectorAll(".action-badge, .self-tag")) sample("badge " + label(b), b, b);
  for (const st of document.querySelectorAll(".meta .status-head, .session-state")) sample("status " + label(st), st, st);
  for (const b of document.querySelectorAll("vscode-button:not([disabled])")) {
    const base = b.shadowRoot && b.shadowRoot.querySelector(".base");
    if (base && (b.textContent || "").trim()) sample("button " + label(b), base, base);
  }
  for (const b of document.querySelectorAll("button")) {
    if (b.disabled || !(b.textContent || "").trim()) continue;
    sample("button " + label(b), b, b);
  }
  return out;
})()`;
