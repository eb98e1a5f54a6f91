"""The panel's look: one stylesheet scoped to ``.wiro-panel`` and small HTML helpers.

The stylesheet travels in an `ipywidgets.HTML` widget's ``<style>`` (core widgets only), so it
renders the same in JupyterLab, Notebook 7, Voilà, VS Code and Colab. Colours come from
JupyterLab's theme variables, so the panel follows the light and dark themes; coloured text
is mixed towards the theme's strongest text colour, which keeps it at WCAG AA contrast (4.5:1)
in both. Sizes follow the panel's own width (a container query) and the viewport's height,
so the Generate button and the image fit on a laptop or projector screen.

Example:
    >>> badge("SANDBOX", "sandbox")
    '<span class="wiro-badge wiro-badge-sandbox">SANDBOX</span>'
"""

from __future__ import annotations

import html

__all__ = ["CSS", "badge", "esc", "message_html"]

_FG = "var(--jp-ui-font-color1, #1f2937)"
_FG0 = "var(--jp-ui-font-color0, #000)"
_FG2 = "var(--jp-ui-font-color2, #5f6368)"
_BG = "var(--jp-layout-color1, #fff)"
_BG2 = "var(--jp-layout-color2, #eee)"
_LINE = "var(--jp-border-color2, #e0e0e0)"


def _tint(variable: str, fallback: str, share: int = 62) -> str:
    """A theme colour mixed towards the strongest text colour: readable on either theme."""
    return f"color-mix(in srgb, var({variable}, {fallback}) {share}%, {_FG0})"


def _wash(variable: str, fallback: str) -> str:
    """A faint background of a theme colour over the panel's background."""
    return f"color-mix(in srgb, var({variable}, {fallback}) 12%, {_BG})"


_ERROR = _tint("--jp-error-color1", "#d32f2f")
_WARN = _tint("--jp-warn-color1", "#f57c00", 55)
_OK = _tint("--jp-success-color1", "#388e3c")
_BRAND = "var(--jp-brand-color1, #1976d2)"
# Space above the image in the notebook (the frontend's bars and the panel's own rows).
_CHROME = "300px"

CSS = f"""
<style>
.wiro-panel {{ container: wiro / inline-size; font-size: 13px; gap: 6px;
  padding: 8px 10px; box-sizing: border-box; max-width: 1280px; color: {_FG};
  border: 1px solid {_LINE}; border-radius: 8px; background: {_BG}; }}
.wiro-panel .wiro-header {{ align-items: center; gap: 6px 8px; flex-wrap: wrap;
  border-bottom: 1px solid {_LINE}; padding-bottom: 4px; }}
.wiro-panel .wiro-title {{ font-size: 15px; font-weight: 600; white-space: nowrap; }}
.wiro-panel .wiro-title .wiro-model {{ font-weight: 400; color: {_FG2}; font-size: 12px;
  margin-left: 6px; }}
.wiro-panel .wiro-badge {{ display: inline-block; padding: 1px 7px; border-radius: 10px;
  font-size: 11px; font-weight: 600; letter-spacing: .04em; }}
.wiro-panel .wiro-badge-sandbox {{ background: #b45309; color: #fff; }}
.wiro-panel .wiro-badge-live {{ background: #e6f4ea; color: #1e6b34; }}
.wiro-panel .wiro-header .jupyter-button {{ width: auto; padding: 0 8px; }}
.wiro-panel .wiro-body {{ gap: 12px; align-items: flex-start; flex-wrap: nowrap; }}
.wiro-panel .wiro-form {{ flex: 0 0 320px; width: 320px; min-width: 0; gap: 0; }}
.wiro-panel .wiro-main {{ flex: 1 1 0; min-width: 0; gap: 4px; }}
@container wiro (max-width: 640px) {{
  .wiro-panel .wiro-body {{ flex-direction: column; }}
  .wiro-panel .wiro-form {{ flex: none; width: 100%; }}
  .wiro-panel .wiro-main {{ flex: none; width: 100%; }}
}}
.wiro-panel .widget-label, .wiro-panel .widget-html, .wiro-panel .widget-html-content {{
  overflow-wrap: anywhere; }}
.wiro-panel .widget-html {{ overflow: visible; min-width: 0; }}
.wiro-panel .widget-html-content {{ line-height: 1.35; min-height: 0; }}
.wiro-panel .wiro-section {{ margin: 6px 0 0 0; min-height: 0; height: auto; }}
.wiro-panel .wiro-section, .wiro-panel .wiro-section .widget-html-content {{
  font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .06em;
  color: {_FG2}; line-height: 18px; white-space: normal; }}
/* Controls are laid out with width 100% plus ipywidgets' 2 px margins, which overflows the
   column by 4 px: let them fill the column instead. */
.wiro-panel .wiro-form .widget-inline-hbox {{ min-width: 0; width: auto !important;
  align-self: stretch; }}
.wiro-panel .wiro-form .widget-inline-hbox .widget-label {{ width: 104px !important;
  flex: 0 0 104px; white-space: normal; line-height: 1.15; overflow: visible;
  display: flex; align-items: center; justify-content: flex-end; min-height: 28px; }}
.wiro-panel .wiro-form .widget-text input, .wiro-panel .wiro-form select {{ min-width: 0;
  flex: 1 1 auto; width: auto; }}
.wiro-panel .wiro-form .widget-hbox > .widget-inline-hbox {{ flex: 1 1 0; width: auto; }}
.wiro-panel .wiro-form .widget-hbox > .jupyter-button {{ flex: 0 0 auto; }}
.wiro-panel .wiro-form .widget-slider .widget-readout {{ width: 44px; min-width: 44px; }}
.wiro-panel .wiro-msg {{ font-size: 12px; margin: 0 0 2px 4px; }}
.wiro-panel .wiro-error {{ color: {_ERROR}; }}
.wiro-panel .wiro-warn {{ color: {_WARN}; }}
.wiro-panel .wiro-info {{ color: {_FG}; }}
.wiro-panel .wiro-invalid input, .wiro-panel .wiro-invalid textarea,
.wiro-panel .wiro-invalid .noUi-target {{ outline: 2px solid {_ERROR}; border-radius: 3px; }}
.wiro-panel .wiro-format {{ display: flex; align-items: center; }}
.wiro-panel .wiro-format > .widget-label {{ text-align: right; padding-right: 8px;
  flex-shrink: 0; }}
.wiro-panel .wiro-format .widget-toggle-button {{ width: 64px; }}
.wiro-panel .wiro-prompt textarea {{ font-size: 13px; line-height: 1.4; }}
.wiro-panel .wiro-readout, .wiro-panel .wiro-readout .widget-html-content {{ font-size: 12px;
  color: {_FG2}; }}
.wiro-panel .wiro-refs-strip {{ flex-wrap: wrap; gap: 6px; }}
.wiro-panel .wiro-ref {{ border: 1px solid {_LINE}; border-radius: 6px; padding: 3px;
  align-items: center; width: 100px; gap: 2px; }}
.wiro-panel .wiro-ref .wiro-ref-picture, .wiro-panel .wiro-ref .widget-image {{
  width: 92px !important; height: 64px !important; border-radius: 4px; object-fit: cover;
  background: {_BG2}; overflow: clip; margin: 0; }}
.wiro-panel .wiro-ref-url {{ width: 92px; height: 64px; overflow: hidden; border-radius: 4px;
  position: relative; display: flex; align-items: center; justify-content: center;
  font-size: 11px; background: {_BG2}; color: {_FG}; }}
.wiro-panel .wiro-ref-url img {{ position: absolute; inset: 0; width: 100%; height: 100%;
  object-fit: cover; }}
.wiro-panel .wiro-ref-label, .wiro-panel .wiro-ref-label .widget-html-content {{
  font-size: 11px; text-align: center; line-height: 1.25; width: 92px; }}
.wiro-panel .wiro-ref-name {{ display: block; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; }}
.wiro-panel .wiro-ref-buttons {{ gap: 2px; }}
.wiro-panel .wiro-ref-buttons .jupyter-button {{ height: 22px; line-height: 20px; width: 28px;
  padding: 0; margin: 0; font-size: 11px; }}
.wiro-panel .wiro-refs-compact {{ gap: 4px; }}
.wiro-panel .wiro-refs-compact .wiro-ref {{ width: 58px; padding: 2px; }}
.wiro-panel .wiro-refs-compact .wiro-ref .wiro-ref-picture,
.wiro-panel .wiro-refs-compact .wiro-ref .widget-image,
.wiro-panel .wiro-refs-compact .wiro-ref-url {{ width: 52px !important;
  height: 40px !important; }}
.wiro-panel .wiro-refs-compact .wiro-ref-label,
.wiro-panel .wiro-refs-compact .wiro-ref-label .widget-html-content {{ width: 52px;
  font-size: 10px; }}
.wiro-panel .wiro-refs-compact .wiro-ref-name {{ display: none; }}
.wiro-panel .wiro-refs-compact .wiro-ref-buttons .jupyter-button {{ width: 17px;
  font-size: 9px; }}
.wiro-panel .wiro-row {{ gap: 4px; flex-wrap: wrap; align-items: center; }}
/* The core uploader writes "<description> (<count>)"; the count is always 0 here (picks are
   moved into the reference list at once), so the label is drawn by CSS instead. */
.wiro-panel .wiro-upload {{ font-size: 0 !important; }}
.wiro-panel .wiro-upload i {{ font-size: 13px; margin-right: 5px; }}
.wiro-panel .wiro-upload::after {{ content: "Add images"; font-size: 13px; }}
.wiro-panel .wiro-actions {{ gap: 6px; align-items: center; flex-wrap: wrap; }}
.wiro-panel .wiro-generate {{ font-weight: 600; }}
.wiro-panel .wiro-count {{ width: 104px; }}
.wiro-panel .wiro-count select {{ width: 100%; }}
.wiro-panel .wiro-hint, .wiro-panel .wiro-hint .widget-html-content {{ font-size: 11px;
  color: {_FG2}; }}
.wiro-panel .wiro-status-row {{ gap: 8px; align-items: center; flex-wrap: wrap; }}
.wiro-panel .wiro-status {{ font-weight: 600; }}
.wiro-panel .wiro-status-done .wiro-status-text {{ color: {_OK}; }}
.wiro-panel .wiro-status-failed .wiro-status-text,
.wiro-panel .wiro-status-lost .wiro-status-text {{ color: {_ERROR}; }}
.wiro-panel .wiro-status-cancelled .wiro-status-text,
.wiro-panel .wiro-status-unknown .wiro-status-text {{ color: {_WARN}; }}
.wiro-panel .wiro-progress {{ min-width: 80px; }}
.wiro-panel .wiro-meta, .wiro-panel .wiro-meta .widget-html-content {{ font-size: 12px;
  color: {_FG2}; white-space: nowrap; }}
.wiro-panel .wiro-alert-box {{ gap: 6px; align-items: center; }}
.wiro-panel .wiro-alert {{ font-size: 12px; flex: 1 1 auto; }}
.wiro-panel .wiro-alert .wiro-error-box {{ background: {_wash("--jp-error-color1", "#d32f2f")};
  border: 1px solid {_ERROR}; color: {_FG}; padding: 5px 8px; border-radius: 6px; }}
.wiro-panel .wiro-alert .wiro-info-box {{ background: {_wash("--jp-brand-color1", "#1976d2")};
  border: 1px solid {_LINE}; color: {_FG}; padding: 5px 8px; border-radius: 6px; }}
.wiro-panel .wiro-output {{ flex-wrap: wrap; gap: 6px; min-height: 96px;
  align-items: flex-start; justify-content: center; background: {_BG};
  border: 1px dashed {_LINE}; border-radius: 6px; padding: 4px; }}
.wiro-panel .wiro-output .widget-image {{ border-radius: 4px; max-width: 100%;
  width: auto !important; height: auto; object-fit: contain;
  max-height: max(220px, calc(100vh - {_CHROME})); }}
.wiro-panel .wiro-output .wiro-cell {{ align-items: center; gap: 2px; min-width: 0;
  border: 2px solid transparent; border-radius: 6px; }}
.wiro-panel .wiro-output .wiro-cell.wiro-selected {{ border-color: {_BRAND}; }}
.wiro-panel .wiro-grid-2 .wiro-cell {{ flex: 0 1 calc(50% - 6px); }}
.wiro-panel .wiro-grid-4 .wiro-cell {{ flex: 0 1 calc(25% - 6px); }}
.wiro-panel .wiro-grid-2 .widget-image {{
  max-height: max(110px, calc((100vh - {_CHROME}) / 2 - 34px)); }}
.wiro-panel .wiro-grid-4 .widget-image {{
  max-height: max(110px, calc((100vh - {_CHROME}) / 2 - 34px)); }}
.wiro-panel .wiro-pick {{ height: 22px; line-height: 20px; font-size: 11px; }}
.wiro-panel .wiro-empty {{ color: {_FG2}; font-size: 12px; padding: 36px 0; width: 100%;
  text-align: center; }}
.wiro-panel .wiro-caption {{ font-size: 12px; color: {_FG}; }}
.wiro-panel .wiro-caption-prompt {{ margin-top: 2px; color: {_FG2}; }}
.wiro-panel .wiro-caption code {{ font-size: 11px; background: {_BG2}; color: {_FG};
  padding: 0 3px; border-radius: 3px; }}
.wiro-panel .wiro-download-link a {{ color: {_tint("--jp-brand-color1", "#1976d2", 70)}; }}
.wiro-panel .wiro-history {{ flex-wrap: nowrap; overflow-x: auto; gap: 6px;
  padding-bottom: 4px; }}
.wiro-panel .wiro-thumb {{ align-items: center; border: 1px solid {_LINE}; border-radius: 6px;
  padding: 3px; flex: 0 0 auto; }}
.wiro-panel .wiro-thumb.wiro-selected {{ border-color: {_BRAND}; box-shadow: 0 0 0 1px {_BRAND}; }}
.wiro-panel .wiro-thumb button {{ height: 22px; line-height: 20px; font-size: 11px; }}
.wiro-panel .wiro-code-box {{ border: 1px solid {_LINE}; border-radius: 6px; padding: 4px;
  gap: 2px; }}
.wiro-panel .wiro-code-box .wiro-row {{ justify-content: flex-end; }}
.wiro-panel .wiro-code-note, .wiro-panel .wiro-code-note .widget-html-content {{
  font-size: 12px; flex: 1 1 auto; color: {_FG}; }}
.wiro-panel .wiro-code textarea {{ font-family: var(--jp-code-font-family, monospace);
  font-size: 12px; background: {_BG2}; color: {_FG}; }}
.wiro-panel .wiro-present {{ align-items: center; gap: 6px; }}
.wiro-panel .wiro-present .wiro-present-image {{ max-width: 100%; width: auto !important;
  height: auto; object-fit: contain; border-radius: 6px;
  max-height: max(200px, calc(100vh - 350px)); }}
.wiro-panel.wiro-fullwindow .wiro-present .wiro-present-image {{
  max-height: calc(100vh - 230px); }}
.wiro-panel .wiro-present-caption {{ font-size: 22px; line-height: 1.3; text-align: center;
  color: {_FG}; padding: 2px 12px; overflow: hidden; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; }}
.wiro-panel .wiro-present-facts {{ font-size: 15px; text-align: center; color: {_FG2}; }}
.wiro-panel .wiro-present-controls {{ width: 100%; gap: 6px; align-items: center; }}
.wiro-panel .wiro-present-controls .wiro-prompt {{ flex: 1 1 auto; width: auto; }}
.wiro-panel .wiro-present-controls textarea {{ font-size: 17px; height: 44px !important;
  min-height: 44px; line-height: 1.25; }}
.wiro-panel .wiro-present-controls .jupyter-button {{ height: 44px; font-size: 16px;
  width: auto !important; padding: 0 16px; flex: 0 0 auto; }}
.wiro-panel.wiro-fullwindow {{ position: fixed; inset: 0; z-index: 10000; max-width: none;
  border-radius: 0; overflow: auto; margin: 0; }}
.wiro-panel.wiro-fullwindow .wiro-body {{ max-width: 1600px; margin: 0 auto; width: 100%; }}
.wiro-panel.wiro-fullwindow .wiro-output .widget-image {{
  max-height: calc(100vh - 180px); }}
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
