"""Packs: what is packed and skipped, filters, the CLI, keys never packed, and bad packs
refused with an error naming the pack and the part before anything is served."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import wiro_widgets
from wiro_widgets.cli import main
from wiro_widgets.errors import TaskFailed
from wiro_widgets.ledger import Ledger
from wiro_widgets.packfile import ENTRIES, MANIFEST, PackError, read_pack
from wiro_widgets.sandbox import Sandbox

MODEL = "black-forest-labs/flux-2-flex"


@pytest.fixture
def good_pack(sandbox: Any, tmp_path: Path) -> Path:
    client = sandbox.client()
    client.run(MODEL, prompt="a red fox", seed=1, steps=4, width=128, height=128)
    client.run(MODEL, prompt="a blue heron", seed=2, steps=4, width=128, height=128)
    return wiro_widgets.pack(tmp_path / "talk.wiropack").path


def rewrite(source: Path, target: Path, *, manifest: Any = None,
            members: dict[str, bytes] | None = None, drop: str = "") -> Path:
    """A copy of a pack with its manifest or members changed (hashes left as they were)."""
    with zipfile.ZipFile(source) as archive:
        raw = {name: archive.read(name) for name in archive.namelist()}
    if manifest is not None:
        raw[MANIFEST] = json.dumps(manifest(json.loads(raw[MANIFEST]))).encode()
    raw.update(members or {})
    raw.pop(drop, None)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in raw.items():
            archive.writestr(name, data)
    return target


def test_only_succeeded_runs_with_cached_outputs_are_packed(sandbox: Any,
                                                            tmp_path: Path) -> None:
    client = sandbox.client()
    kept = client.run(MODEL, prompt="a red fox", seed=1, steps=4, width=128, height=128)
    gone = client.run(MODEL, prompt="a gone fox", seed=1, steps=4, width=128, height=128)
    with pytest.raises(TaskFailed):
        client.run(MODEL, prompt="fail-me please", seed=1, steps=4)
    Path(gone.outputs[0].path).unlink()
    report = wiro_widgets.pack(tmp_path / "t.wiropack")
    assert report.packed == [kept.task_id]
    reasons = dict(report.skipped)
    assert "no longer in the output cache" in reasons[gone.task_id]
    assert any("failed: only succeeded runs" in r for r in reasons.values())
    assert [run.task_id for run in read_pack(report.path).runs] == [kept.task_id]


def test_filters_choose_the_runs(sandbox: Any, tmp_path: Path) -> None:
    client = sandbox.client()
    runs = [client.run(MODEL, prompt=f"fox {n}", seed=n, steps=4, width=128, height=128)
            for n in range(3)]
    ids = [r.task_id for r in runs]
    assert wiro_widgets.pack(tmp_path / "a", last=2).packed == ids[1:]
    assert wiro_widgets.pack(tmp_path / "b", tasks=[ids[0]]).packed == [ids[0]]
    assert wiro_widgets.pack(tmp_path / "c", model="flux-2-flex").packed == ids
    assert wiro_widgets.pack(tmp_path / "d", since="2000-01-01").packed == ids
    with pytest.raises(PackError, match="nothing to pack"):
        wiro_widgets.pack(tmp_path / "e", model="another/model")
    with pytest.raises(PackError, match="since='yesterday'"):
        wiro_widgets.pack(tmp_path / "f", since="yesterday")
    assert not (tmp_path / "e").exists()


def test_the_cli_packs(sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                       ) -> None:
    client = sandbox.client()
    done = client.run(MODEL, prompt="a red fox", seed=1, steps=4, width=128, height=128)
    out = tmp_path / "cli.wiropack"
    assert main(["pack", str(out), "--last", "1", "--model", MODEL, "--task", done.task_id]) == 0
    assert f"packed 1 runs into {out}" in capsys.readouterr().out
    assert main(["pack", str(tmp_path / "none"), "--model", "x/y"]) == 1
    assert "nothing to pack" in capsys.readouterr().err


def test_a_run_carrying_a_key_is_refused(sandbox: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    client = sandbox.client()
    done = client.run(MODEL, prompt="a red fox", seed=1, steps=4, width=128, height=128)
    ledger = Ledger()
    lines = ledger.path.read_text().splitlines()
    # A ledger written by hand (or by another tool) with the environment's key in a prompt.
    monkeypatch.setenv("WIRO_API_KEY", "sk-live-abcdef0123456789")
    edited = [line.replace('"a red fox"', '"a red fox sk-live-abcdef0123456789"')
              for line in lines]
    ledger.path.write_text("\n".join(edited) + "\n")
    with pytest.raises(PackError, match=rf"task {done.task_id} .*'params.prompt' carries a key"):
        wiro_widgets.pack(tmp_path / "k1.wiropack")
    assert not (tmp_path / "k1.wiropack").exists()
    monkeypatch.delenv("WIRO_API_KEY")
    # A field named like a credential, whatever its value.
    edited = [line.replace('"params": {', '"params": {"api_secret": "hunter2", ')
              for line in lines]
    ledger.path.write_text("\n".join(edited) + "\n")
    with pytest.raises(PackError, match=r"'params\.api_secret' holds a credential"):
        wiro_widgets.pack(tmp_path / "k2.wiropack")
    # Nothing packed ever holds the sandbox's own key or secret.
    ledger.path.write_text("\n".join(lines) + "\n")
    data = (wiro_widgets.pack(tmp_path / "ok.wiropack").path).read_bytes()
    assert sandbox.api_key.encode() not in data
    assert sandbox.api_secret.encode() not in data
    assert b"accesskey" not in data


@pytest.mark.parametrize(("damage", "part"), [
    ("truncated", "truncated or corrupt"),
    ("garbage", "truncated or corrupt"),
    ("tampered", "does not match the SHA-256"),
    ("newer", "format version 2, newer"),
    ("unlisted", "not listed in its manifest"),
    ("missing", "listed in its manifest but missing"),
    ("no_manifest", "no manifest.json"),
    ("foreign", "not a wiro-widgets pack manifest"),
])
def test_a_bad_pack_is_refused_before_anything_is_served(
        good_pack: Path, tmp_path: Path, damage: str, part: str) -> None:
    bad = tmp_path / f"{damage}.wiropack"
    data = good_pack.read_bytes()
    output = next(n for n in zipfile.ZipFile(good_pack).namelist() if n.startswith("outputs/"))
    if damage == "truncated":
        bad.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "garbage":
        bad.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    elif damage == "tampered":
        rewrite(good_pack, bad, members={output: b"\x89PNG another picture"})
    elif damage == "newer":
        rewrite(good_pack, bad, manifest=lambda m: {**m, "version": 2})
    elif damage == "unlisted":
        rewrite(good_pack, bad, members={"outputs/extra.png": b"x"})
    elif damage == "missing":
        rewrite(good_pack, bad, drop=output)
    elif damage == "no_manifest":
        rewrite(good_pack, bad, drop=MANIFEST)
    else:
        rewrite(good_pack, bad, manifest=lambda m: {**m, "format": "something-else"})
    with pytest.raises(PackError) as caught:
        read_pack(bad)
    assert str(bad) in str(caught.value)
    assert part in str(caught.value)
    sb = Sandbox(replay=bad)
    with pytest.raises(PackError, match=part):
        sb.start()
    with pytest.raises(RuntimeError, match="not started"):
        _ = sb.base_url  # nothing was bound, nothing served
    sb.stop()


def test_the_cli_refuses_a_bad_pack(good_pack: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.wiropack"
    bad.write_bytes(good_pack.read_bytes()[:300])
    done = subprocess.run([sys.executable, "-m", "wiro_widgets.cli", "sandbox", "--replay",
                           str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot start" in done.stderr
    assert str(bad) in done.stderr
    assert "export WIRO_API_KEY" not in done.stdout


def test_bad_replay_settings_are_refused(good_pack: Path) -> None:
    with pytest.raises(ValueError, match="on_miss='fail'"):
        Sandbox(replay=good_pack, on_miss="fail").start()
    with pytest.raises(ValueError, match="replay_speed=0"):
        Sandbox(replay=good_pack, replay_speed=0).start()


def test_the_pack_format(good_pack: Path) -> None:
    with zipfile.ZipFile(good_pack) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        names = set(archive.namelist())
    assert manifest["format"] == "wiro-widgets-pack"
    assert manifest["version"] == 1
    assert manifest["runs"] == 2
    assert set(manifest["members"]) == names - {MANIFEST}
    assert ENTRIES in names


def test_a_pack_too_large_to_unpack_is_refused(good_pack: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import wiro_widgets.packfile as packfile

    largest = max(i.file_size for i in zipfile.ZipFile(good_pack).infolist())
    monkeypatch.setattr(packfile, "MAX_MEMBER_BYTES", largest - 1)
    with pytest.raises(PackError, match="more than a pack may hold"):
        read_pack(good_pack)
    monkeypatch.setattr(packfile, "MAX_MEMBER_BYTES", largest)
    assert len(read_pack(good_pack).runs) == 2
