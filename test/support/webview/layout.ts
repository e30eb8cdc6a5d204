// Layout checks of the sidebar that must hold in every theme and at every sidebar width (issue 11 §3):
// nothing in the header or this window's session name cut off, stream rows on one line, commands that
// neither scroll in a box nor wrap inside a word, notices that cover no list item. Run in the page by
// the harness tests (test/webview) and the UI suite in the real VS Code (test/ui).

/** Source of a function run in the page (a string, see contrast.ts); returns the problems in words. */
export const LAYOUT_PROBE = `(() => {
      const problems = [];
      const cut = (el) => el.scrollWidth > el.clientWidth + 1;
      const width = document.documentElement.clientWidth;
      for (const p of document.querySelectorAll(".conn-phase, .conn-part")) {
        if (cut(p) || p.getBoundingClientRect().right > width + 1) problems.push("header text cut off: " + p.textContent);
      }
      const self = document.querySelector(".card.session.self .session-label");
      if (!self) problems.push("no card for this window");
      else if (cut(self)) problems.push("this window's session name is cut off: " + self.textContent + " (" + self.clientWidth + " of " + self.scrollWidth + " px)");
      for (const m of document.querySelectorAll(".row.stream .meta")) {
        // One line: the row is no taller than its tallest piece, and no piece is taller than a line.
        const heights = [...m.children].map((c) => c.getBoundingClientRect().height);
        const line = parseFloat(getComputedStyle(m).fontSize) * 1.4;
        if (m.getBoundingClientRect().height > Math.max(...heights) + 2 || heights.some((h) => h > line * 1.5)) problems.push("a stream row wraps: " + m.textContent.replace(/\\s+/g, " ").trim());
        // The status's first word ("running", "cancelled", "exit 3"'s "exit") is always whole.
        const head = m.querySelector(".status-head");
        if (head && (cut(head) || head.getBoundingClientRect().right > m.getBoundingClientRect().right + 1)) problems.push("a stream's status is cut off: " + head.textContent);
      }
      for (const pre of document.querySelectorAll("pre.command")) {
        const o = getComputedStyle(pre);
        if (o.overflowY === "auto" || o.overflowY === "scroll" || o.overflowX === "auto" || o.overflowX === "scroll") problems.push("a command scrolls in a box");
        if (o.wordBreak === "break-all") problems.push("commands break anywhere (word-break: break-all)");
        // Every run of letters stays on one line (no "warnin g:").
        const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          for (const w of n.data.matchAll(/[A-Za-z]{3,}/g)) {
            const r = document.createRange();
            r.setStart(n, w.index);
            r.setEnd(n, w.index + w[0].length);
            const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
            if (tops.size > 1) problems.push("a word is wrapped in the middle: " + w[0]);
          }
        }
      }
      const notices = [...document.querySelectorAll(".notice")].map((n) => n.getBoundingClientRect());
      for (const li of document.querySelectorAll("li.vitem")) {
        const r = li.getBoundingClientRect();
        if (notices.some((n) => n.left < r.right && r.left < n.right && n.top < r.bottom && r.top < n.bottom)) problems.push("a notice covers a list item");
      }
      return problems;
    })()`;
