"""The panel's look: one stylesheet scoped to ``.wiro-panel`` and small HTML helpers.

The stylesheet travels in an `ipywidgets.HTML` widget's ``<style>`` (core widgets only, no
custom JavaScript), so it renders the same in JupyterLab, Notebook 7, VS Code and Colab.

Example:
    >>> badge("SANDBOX", "sandbox")
    '<span class="wiro-badge wiro-badge-sandbox">SANDBOX</span>'
"""

from __future__ import annotations

import html

__all__ = ["CSS", "badge", "esc", "message_html"]

CSS = """
<style>
.wiro-panel { font-size: 13px; gap: 8px; padding: 10px 12px; border: 1px solid #d0d7de;
  border-radius: 8px; background: var(--jp-layout-color1, #fff); max-width: 1280px; }
.wiro-panel .wiro-header { align-items: center; gap: 8px; border-bottom: 1px solid #e5e7eb;
  padding-bottom: 6px; }
.wiro-panel .wiro-title { font-size: 15px; font-weight: 600; }
.wiro-panel .wiro-title .wiro-model { font-weight: 400; color: #6b7280; font-size: 12px;
  margin-left: 6px; }
.wiro-panel .wiro-badge { display: inline-block; padding: 1px 7px; border-radius: 10px;
  font-size: 11px; font-weight: 600; letter-spacing: .04em; }
.wiro-panel .wiro-badge-sandbox { background: #b45309; color: #fff; }
.wiro-panel .wiro-badge-live { background: #e6f4ea; color: #1e6b34; }
.wiro-panel .wiro-body { gap: 14px; align-items: flex-start; flex-wrap: wrap; }
.wiro-panel .wiro-form { flex: 0 1 400px; min-width: 320px; gap: 2px; }
.wiro-panel .wiro-main { flex: 1 1 420px; min-width: 320px; gap: 6px; }
.wiro-panel .wiro-section { font-size: 11px; font-weight: 600; text-transform: uppercase;
  letter-spacing: .06em; color: #6b7280; margin: 8px 0 2px 0; }
.wiro-panel .wiro-msg { font-size: 12px; margin: 0 0 2px 4px; line-height: 1.3; }
.wiro-panel .wiro-msg .wiro-error { color: #b42318; }
.wiro-panel .wiro-msg .wiro-warn { color: #92400e; }
.wiro-panel .wiro-msg .wiro-info { color: #374151; }
.wiro-panel .wiro-invalid input, .wiro-panel .wiro-invalid textarea,
.wiro-panel .wiro-invalid .noUi-target { outline: 2px solid #d92d20; border-radius: 3px; }
.wiro-panel .wiro-format { display: flex; align-items: center; }
.wiro-panel .wiro-format > .widget-label { text-align: right; padding-right: 8px;
  flex-shrink: 0; }
.wiro-panel .wiro-prompt textarea { font-size: 13px; line-height: 1.4; }
.wiro-panel .wiro-readout { font-size: 12px; color: #4b5563; }
.wiro-panel .wiro-refs-strip { flex-wrap: wrap; gap: 6px; }
.wiro-panel .wiro-ref { border: 1px solid #e5e7eb; border-radius: 6px; padding: 3px;
  align-items: center; width: 112px; }
.wiro-panel .wiro-ref .widget-image { width: 104px !important; height: 72px !important;
  border-radius: 4px; object-fit: cover; background: #f3f4f6;
  overflow: clip; /* widget CSS sets overflow: visible, which lets a cover-fit image spill */ }
.wiro-panel .wiro-ref-label { font-size: 11px; text-align: center; line-height: 1.2;
  overflow: hidden; white-space: nowrap; text-overflow: ellipsis; width: 104px; }
.wiro-panel .wiro-ref-url { width: 104px; height: 72px; display: flex; align-items: center;
  justify-content: center; background: #f3f4f6; border-radius: 4px; font-size: 11px;
  color: #374151; word-break: break-all; overflow: hidden; }
.wiro-panel .wiro-ref button { height: 22px; line-height: 20px; font-size: 11px; }
.wiro-panel .wiro-row { gap: 6px; }
/* The core uploader writes "<description> (<count>)"; the count is always 0 here (picks are
   moved into the reference list at once), so the label is drawn by CSS instead. */
.wiro-panel .wiro-upload { font-size: 0 !important; }
.wiro-panel .wiro-upload i { font-size: 13px; margin-right: 5px; }
.wiro-panel .wiro-upload::after { content: "Add images"; font-size: 13px; }
.wiro-panel .wiro-actions { gap: 6px; align-items: center; margin-top: 8px; }
.wiro-panel .wiro-generate { font-weight: 600; }
.wiro-panel .wiro-status-row { gap: 10px; align-items: center; }
.wiro-panel .wiro-status { font-weight: 600; }
.wiro-panel .wiro-status-done .wiro-status-text { color: #1e6b34; }
.wiro-panel .wiro-status-failed .wiro-status-text { color: #b42318; }
.wiro-panel .wiro-status-cancelled .wiro-status-text { color: #92400e; }
.wiro-panel .wiro-meta { font-size: 12px; color: #6b7280; }
.wiro-panel .wiro-alert { font-size: 12px; }
.wiro-panel .wiro-alert .wiro-error-box { background: #fef3f2; border: 1px solid #fecdca;
  color: #7a271a; padding: 6px 9px; border-radius: 6px; }
.wiro-panel .wiro-alert .wiro-info-box { background: #f0f9ff; border: 1px solid #b9e6fe;
  color: #0b4a6f; padding: 6px 9px; border-radius: 6px; }
.wiro-panel .wiro-output { flex-wrap: wrap; gap: 8px; min-height: 120px; align-items: flex-start;
  background: #f9fafb; border: 1px dashed #d0d7de; border-radius: 6px; padding: 6px; }
.wiro-panel .wiro-output .widget-image { border-radius: 4px; max-width: 100%; height: auto; }
.wiro-panel .wiro-empty { color: #9ca3af; font-size: 12px; padding: 40px 0; width: 100%;
  text-align: center; }
.wiro-panel .wiro-caption { font-size: 12px; color: #374151; }
.wiro-panel .wiro-caption code { font-size: 11px; background: #f3f4f6; padding: 0 3px;
  border-radius: 3px; }
.wiro-panel .wiro-history { flex-wrap: nowrap; overflow-x: auto; gap: 6px; padding-bottom: 4px; }
.wiro-panel .wiro-thumb { align-items: center; border: 1px solid #e5e7eb; border-radius: 6px;
  padding: 3px; flex: 0 0 auto; }
.wiro-panel .wiro-thumb.wiro-selected { border-color: #2563eb; box-shadow: 0 0 0 1px #2563eb; }
.wiro-panel .wiro-thumb button { height: 22px; line-height: 20px; font-size: 11px; }
.wiro-panel .wiro-code textarea { font-family: var(--jp-code-font-family, monospace);
  font-size: 12px; background: #f6f8fa; }
.wiro-panel .wiro-present-caption { font-size: 18px; line-height: 1.4; text-align: center;
  color: #111827; padding: 6px 12px; }
.wiro-panel .wiro-present .widget-image { max-width: 100%; height: auto; border-radius: 6px; }
.wiro-panel .wiro-present { align-items: center; }
</style>
"""


def esc(text: object) -> str:
    """HTML-escape any text that came from a user or a server.

    Example:
        >>> esc("<b>")
        '&lt;b&gt;'
    """
    return html.escape(str(text), quote=True)


def badge(text: str, kind: str) -> str:
    """A small pill (``kind`` picks its colour: ``sandbox`` or ``live``).

    Example:
        >>> badge("LIVE", "live")
        '<span class="wiro-badge wiro-badge-live">LIVE</span>'
    """
    return f'<span class="wiro-badge wiro-badge-{kind}">{esc(text)}</span>'


def message_html(text: str, level: str = "error") -> str:
    """One inline message under a control; ``level`` is ``error``, ``warn`` or ``info``.

    Example:
        >>> message_html("must be from 0 to 6")
        '<span class="wiro-error">must be from 0 to 6</span>'
    """
    if not text:
        return ""
    return f'<span class="wiro-{level}">{esc(text)}</span>'
