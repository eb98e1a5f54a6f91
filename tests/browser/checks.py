"""What the browser tests measure on the page: text contrast, clipped text and controls, what
is on screen, and screenshots kept for a person to look at.

The measurements run in the page (JavaScript through Playwright) on the computed styles, so
they check what the browser drew, not what the stylesheet meant.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ARTIFACTS = Path(os.environ.get("WIRO_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[2] / "test-artifacts") / "browser"

#: WCAG AA for normal text.
AA = 4.5

# Every visible text node under `root`: its colour composited over the backgrounds behind it
# (opacity included), and the contrast ratio. Disabled controls are exempt (WCAG 1.4.3).
CONTRAST_JS = """(root) => {
  // Computed colours come as rgb()/rgba() (0-255), or color(srgb ...) (0-1) for color-mix().
  const parse = (c) => {
    let m = c.match(/rgba?\\(([^)]+)\\)/), scale = 1;
    if (!m) { m = c.match(/color\\(srgb ([^)]+)\\)/); scale = 255; }
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0] * scale, p[1] * scale, p[2] * scale, p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => { const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]); };
  const lum = (c) => { const f = (v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break; }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg; };
  const opacity = (el) => { let o = 1;
    for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
    return o; };
  const out = []; let checked = 0;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim(); const el = node.parentElement;
    if (!text || !el || el.closest('style, script, option')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || !el.getClientRects().length) continue;
    if (el.closest('button:disabled, [disabled], .mod-disabled')) continue;
    const bg = background(el); const fg = parse(style.color);
    const shown = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const a = lum(shown), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked++;
    if (ratio < AA_RATIO) out.push({text: text.slice(0, 40), ratio: +ratio.toFixed(2),
      color: style.color, background: 'rgb(' + bg.slice(0, 3).map(Math.round) + ')'});
  }
  return {checked, failures: out};
}""".replace("AA_RATIO", str(AA))

# Text and controls cut off by a box that hides its overflow (inside the panel), a label cut
# with an ellipsis, or the panel scrolling sideways. The history strip scrolls on purpose, and
# a reference's file name ends in an ellipsis on purpose (its "image N" shows in full, the
# whole name is in the tooltip).
CLIP_JS = """(root) => {
  const out = [];
  const clippers = (el) => { const list = [];
    for (let e = el.parentElement; e && root.contains(e); e = e.parentElement) {
      if (e.closest('.wiro-history')) continue;
      const s = getComputedStyle(e);
      if (s.overflowX !== 'visible' || s.overflowY !== 'visible') list.push(e); }
    return list; };
  const cut = (rect, el, what) => {
    if (!rect.width || !rect.height) return;
    for (const box of clippers(el)) { const b = box.getBoundingClientRect();
      if (rect.left < b.left - 1 || rect.right > b.right + 1 || rect.top < b.top - 1 ||
          rect.bottom > b.bottom + 1) {
        out.push({what, by: box.className.toString().slice(0, 60),
                  at: [rect.left, rect.right, rect.top, rect.bottom].map(Math.round),
                  box: [b.left, b.right, b.top, b.bottom].map(Math.round)});
        return; } } };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim(); const el = node.parentElement;
    if (!text || !el || el.closest('style, script, option, .wiro-history, .wiro-ref-name'))
      continue;
    if (!el.getClientRects().length) continue;
    const range = document.createRange(); range.selectNodeContents(node);
    for (const rect of range.getClientRects()) cut(rect, el, text.slice(0, 40));
    if (getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1)
      out.push({what: text.slice(0, 40), by: 'ellipsis'});
  }
  for (const el of root.querySelectorAll('input, select, textarea, button')) {
    if (!el.getClientRects().length || el.closest('.wiro-history')) continue;
    if (el.type === 'file' || el.closest('.wiro-channel')) continue;
    cut(el.getBoundingClientRect(), el, el.tagName + '.' + el.className.toString().slice(0, 30));
  }
  if (root.scrollWidth > root.clientWidth + 1) out.push({what: 'panel', by: 'scrolls sideways'});
  return out;
}"""

# Where things are relative to what the user sees: the viewport, and the scrolling area of
# the notebook the panel sits in (JupyterLab and Notebook 7 scroll inside the page).
VIEW_JS = """(root) => {
  let area = null;
  for (let e = root.parentElement; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if ((s.overflowY === 'auto' || s.overflowY === 'scroll') && e.scrollHeight > e.clientHeight)
      { area = e; break; } }
  const a = area ? area.getBoundingClientRect() : {top: 0, bottom: innerHeight, left: 0,
                                                   right: innerWidth};
  const view = {top: Math.max(0, a.top), bottom: Math.min(innerHeight, a.bottom),
                left: Math.max(0, a.left), right: Math.min(innerWidth, a.right)};
  const seen = (sel) => [...root.querySelectorAll(sel)].filter(e => e.getClientRects().length)
    .map(e => { const r = e.getBoundingClientRect();
      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
              inside: r.top >= view.top - 1 && r.bottom <= view.bottom + 1 &&
                      r.left >= view.left - 1 && r.right <= view.right + 1}; });
  return {view, generate: seen('.wiro-generate'), images: seen('.wiro-output img'),
          present: seen('.wiro-present-image'), caption: seen('.wiro-present-caption'),
          panel: root.getBoundingClientRect().top};
}"""

SCROLL_TO_PANEL_JS = """(root) => { root.scrollIntoView({block: 'start', behavior: 'instant'}); }"""


def panel_root(page: Any) -> Any:
    return page.locator(".wiro-panel").first.element_handle()


def contrast(page: Any) -> dict[str, Any]:
    """``{"checked": n, "failures": [...]}`` for every visible text of the panel."""
    result: dict[str, Any] = page.evaluate(CONTRAST_JS, panel_root(page))
    return result


def clipped(page: Any) -> list[dict[str, str]]:
    """Texts and controls of the panel that are cut off."""
    result: list[dict[str, str]] = page.evaluate(CLIP_JS, panel_root(page))
    return result


def on_screen(page: Any) -> dict[str, Any]:
    """The panel's key parts and whether each is inside the visible area, with the panel's
    top at the top of that area (scrolled there, again if the notebook scrolled away)."""
    result: dict[str, Any] = {}
    for _ in range(20):
        page.evaluate(SCROLL_TO_PANEL_JS, panel_root(page))
        page.wait_for_timeout(150)
        result = page.evaluate(VIEW_JS, panel_root(page))
        if abs(result["panel"] - result["view"]["top"]) <= 2:
            break
    return result


def set_theme(page: Any, dark: bool) -> None:
    """Switch JupyterLab's (or Notebook 7's) theme and wait until it applies."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', "
                  f"{{theme: '{theme}'}})")
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === "
                           f"'{'false' if dark else 'true'}'")
    page.wait_for_timeout(300)


def screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot of the viewport under test-artifacts/browser/ (for a person)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
