"""The few things only the browser can do, and the way back to Python.

ipywidgets has no keyboard shortcuts, clipboard, full screen, or a look at a file's size
before its bytes are read. A short script, started by an image's ``onerror`` inside the
panel's stylesheet widget (core widgets only: no extension to install), adds them to its own
panel and to nothing else:

- Ctrl+Enter (Cmd+Enter) in the prompt presses Generate;
- "Copy" and "Copy as code" put the code box's text on the clipboard (the latter once Python
  has brought the code up to date: it changes the box's stamp);
- "Full screen" asks the browser to show the panel full screen;
- files over the size limit are taken out of a pick before they are read and sent.

What the script has to tell Python travels through a hidden text box (`Channel`) as JSON.
Where scripts do not run (a static render of a saved notebook) every one of these has a plain
fallback: the button, the visible code box, the full-window view, the refusal after upload.

Example:
    >>> channel = Channel()
    >>> channel.on("copied", lambda message: print(message["ok"]))
    >>> script_html(max_bytes=100 * 1024 * 1024)[:4]
    '<img'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from .theme import esc

__all__ = ["Channel", "script_html"]

_SCRIPT = """
(function (img) {
  var root = img.closest('.wiro-panel');
  if (!root || root.dataset.wiroShim) { return; }
  root.dataset.wiroShim = '1';
  var MAX = %(max_bytes)d;
  function send(message) {
    var box = root.querySelector('.wiro-channel input');
    if (!box) { return; }
    message.n = Date.now() + Math.random();
    box.value = JSON.stringify(message);
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  function copy(text) {
    function fallback() {
      var area = document.createElement('textarea');
      area.value = text; area.style.position = 'fixed'; area.style.opacity = '0';
      root.appendChild(area); area.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
      area.remove();
      send({event: 'copied', ok: ok});
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        send({event: 'copied', ok: true}); }, fallback);
    } else { fallback(); }
  }
  function guard(input) {
    if (input.dataset.wiroGuard) { return; }
    input.dataset.wiroGuard = '1';
    input.addEventListener('input', function () {
      var keep = new DataTransfer(), refused = [];
      Array.prototype.forEach.call(input.files || [], function (file) {
        if (file.size > MAX) { refused.push({name: file.name, size: file.size}); }
        else { keep.items.add(file); }
      });
      if (refused.length) { input.files = keep.files; send({event: 'refused', files: refused}); }
    });
  }
  root.addEventListener('keydown', function (event) {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) { return; }
    if (!event.target.closest || !event.target.closest('.wiro-prompt')) { return; }
    event.preventDefault(); event.stopPropagation();
    var button = root.querySelector('button.wiro-generate');
    if (button && !button.disabled) { button.click(); }
  }, true);
  root.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button');
    if (!button || button.disabled) { return; }
    var list = button.classList;
    if (list.contains('wiro-code-copy')) {
      var code = root.querySelector('.wiro-code textarea');
      if (code) { copy(code.value); }
    } else if (list.contains('wiro-code-button')) {
      var stamp = function () {
        var mark = root.querySelector('.wiro-code-stamp');
        return mark ? mark.dataset.stamp : ''; };
      var before = stamp(), waited = 0;
      var poll = setInterval(function () {
        waited += 25;
        if (stamp() === before && waited < 3000) { return; }
        clearInterval(poll);
        var box = root.querySelector('.wiro-code textarea');
        if (box) { copy(box.value); }
      }, 25);
    } else if (list.contains('wiro-fullscreen')) {
      if (document.fullscreenElement === root) { document.exitFullscreen(); }
      else if (root.requestFullscreen) { root.requestFullscreen().catch(function () {}); }
    } else if (list.contains('wiro-upload')) {
      var click = HTMLInputElement.prototype.click;
      HTMLInputElement.prototype.click = function () {
        HTMLInputElement.prototype.click = click;
        if (this.type === 'file') { guard(this); }
        return click.apply(this, arguments);
      };
      setTimeout(function () { HTMLInputElement.prototype.click = click; }, 0);
    }
  }, true);
  document.addEventListener('fullscreenchange', function () {
    if (!document.fullscreenElement && root.classList.contains('wiro-fullwindow')) {
      send({event: 'fullscreen', on: false});
    }
  });
})(this);
"""


def script_html(*, max_bytes: int) -> str:
    """The hidden image whose ``onerror`` starts the panel's script (once per panel).

    Example:
        >>> "wiro-shim" in script_html(max_bytes=1024)
        True
    """
    script = " ".join(line.strip() for line in (_SCRIPT % {"max_bytes": max_bytes}).splitlines())
    return (f'<img class="wiro-shim" alt="" src="data:," style="display:none" '
            f'onerror="{esc(script.strip())}">')


class Channel:
    """Messages from the panel's script to Python: a hidden text box carrying JSON.

    Attributes:
        widget: the hidden box (CSS class ``wiro-channel``); place it in the panel.
    """

    def __init__(self) -> None:
        self.widget = w.Text(value="", layout=w.Layout(display="none"))
        self.widget.add_class("wiro-channel")
        self._handlers: dict[str, list[Callable[[Mapping[str, Any]], object]]] = {}
        self.widget.observe(self._received, names="value")

    def on(self, event: str, handler: Callable[[Mapping[str, Any]], object]) -> None:
        """Call ``handler(message)`` for each message whose ``event`` is ``event``."""
        self._handlers.setdefault(event, []).append(handler)

    def _received(self, change: Mapping[str, Any]) -> None:
        text = change["new"]
        if not text:
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        for handler in self._handlers.get(str(message.get("event")), ()):
            handler(message)
