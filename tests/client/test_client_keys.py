"""Keys that cannot leak (issue 12, "Keys"): a malformed key is refused at construction
without being echoed, and no exception the client raises holds the key: not in its text, not
in its chain (``__cause__``, ``__context__``), not in the locals of the frames it carries."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wiro_widgets import ConfigError, WiroClient, WiroError

MODEL = "black-forest-labs/flux-2-flex"

#: Pieces of a key and a secret; each test joins them only inside the call it makes, so no
#: frame of the test itself holds a whole one.
KEY_PARTS = ("sk-live-", "HYGIENE-KEY-7f3a9c1e")
SECRET_PARTS = ("hygiene-", "SECRET-d4c3b2a1")
KEY = "".join(KEY_PARTS)
SECRET = "".join(SECRET_PARTS)


def chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and every exception reachable from it (causes and contexts, suppressed or
    not)."""
    seen: set[int] = set()
    stack = [err]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        stack.extend(e for e in (item.__cause__, item.__context__) if e is not None)


def exposed_text(err: BaseException, below: str = "") -> str:
    """Everything a user could see of ``err``: each exception of its chain formatted with the
    locals of its frames (``capture_locals=True``), its args and attributes. Frames of this
    test module are left out (they hold the pieces the key is made of)."""
    texts = []
    for item in chain(err):
        texts += [str(item), repr(item), repr(item.args), repr(vars(item))]
        summary = traceback.TracebackException(type(item), item, item.__traceback__,
                                               capture_locals=True)
        for frame in summary.stack:
            if frame.filename == __file__:
                continue
            texts.append(f"{frame.filename}:{frame.name} {frame.locals}")
    return "\n".join(texts)


def raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except BaseException as err:  # every kind is wanted
        return err
    raise AssertionError("nothing was raised")


@pytest.mark.parametrize(("key", "secret", "what"), [
    (KEY_PARTS[0] + "\u2013" + KEY_PARTS[1], SECRET, "key"),       # an en dash pasted in
    (KEY_PARTS[0] + "\u00a0" + KEY_PARTS[1], SECRET, "key"),       # a non-breaking space
    (KEY_PARTS[0] + "é" + KEY_PARTS[1], SECRET, "key"),
    (KEY, SECRET_PARTS[0] + "\u2014" + SECRET_PARTS[1], "secret"),
    (KEY, SECRET_PARTS[0] + " " + SECRET_PARTS[1], "secret"),     # whitespace inside
    (KEY_PARTS[0] + "\x00" + KEY_PARTS[1], SECRET, "key"),        # a control character
])
def test_a_malformed_key_is_refused_at_construction_without_echo(key: str, secret: str,
                                                                  what: str) -> None:
    err = raised(lambda: WiroClient(api_key=key, api_secret=secret,
                                    base_url="http://127.0.0.1:9/v1"))
    assert type(err) is ConfigError
    assert f"API {what}" in str(err)
    text = exposed_text(err)
    for piece in (*KEY_PARTS, *SECRET_PARTS):
        assert piece not in text


def test_the_key_is_out_of_the_frames_of_a_later_configuration_error() -> None:
    err = raised(lambda: WiroClient(api_key="".join(KEY_PARTS),
                                    api_secret="".join(SECRET_PARTS), base_url="ftp://x"))
    assert type(err) is ConfigError
    text = exposed_text(err)
    assert KEY not in text
    assert SECRET not in text
    assert "WiroClient(<not configured>)" in text  # the half-built client's repr is safe


def test_a_password_in_a_reference_url_is_sent_but_never_kept(sandbox: Any, wiro_home: Any,
                                                              tmp_path: Any) -> None:
    from wiro_widgets.panel import FluxPanel

    password = "".join(("pa55", "-in-url-", "9c1e"))
    url = f"https://reel:{password}@example.com/refs/dog.png"
    client = sandbox.client()
    result = client.run(MODEL, prompt="a dog", input_images=[url], width=64, height=64,
                        steps=2)
    (task,) = [t for t in sandbox.tasks if t.id == result.task_id]
    assert [i["url"] for i in task.inputs] == [url]  # the request used the URL as given
    saved = result.save(tmp_path / "saved")
    panel = FluxPanel(client)
    panel.references.add_url(url)
    places = {
        "result.params": repr(result.params),
        "repr(reference)": repr(panel.references.items[0]),
        "descriptor": repr(panel.references.items[0].descriptor()),
        "panel code": panel.show_code(),
        "ledger": (wiro_home / "ledger.jsonl").read_text(encoding="utf-8"),
        **{f"saved {p.name}": p.read_bytes().decode("latin-1")
           for p in saved + [p.with_suffix(".json") for p in saved]},
    }
    assert "https://example.com/refs/dog.png" in places["ledger"]
    assert [name for name, text in places.items() if password in text] == []


@pytest.mark.parametrize("fault", ["drop", "garbled", "stall", "refused", "401"])
def test_no_network_error_carries_the_key_in_its_chain_or_frames(make_sandbox: Any,
                                                                 fault: str) -> None:
    from wiro_widgets.backoff import RetryPolicy
    from wiro_widgets.sandbox import Faults

    sb = make_sandbox(api_key=KEY, api_secret=SECRET)
    base_url = sb.base_url
    if fault == "refused":
        sb.stop()
    elif fault != "401":
        sb.set_faults(Faults(error_rate=1.0, kinds=(fault,), stall_seconds=3.0))
    err = raised(lambda: WiroClient(
        api_key="".join(KEY_PARTS), api_secret="".join(SECRET_PARTS) + ("x" * (fault == "401")),
        base_url=base_url, timeout=(2.0, 1.0), retry=RetryPolicy(budget=0.5), ledger=False,
    ).detail("534574"))
    assert isinstance(err, WiroError), repr(err)
    text = exposed_text(err)
    assert KEY not in text
    assert SECRET not in text
