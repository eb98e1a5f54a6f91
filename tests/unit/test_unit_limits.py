"""The request bounds of `client._limits`: how scopes add up, when a watch is due, and that
expiring one wakes a blocked receive (pure logic and a local socket pair)."""

from __future__ import annotations

import socket
import threading
import time

from wiro_widgets.client._limits import Scope, Watch, bounded, current_scope, watched


def test_nested_scopes_add_up_and_unwind() -> None:
    first, second = threading.Event(), threading.Event()
    assert current_scope() == Scope()
    with bounded(deadline=100.0, stop=first, each=5.0):
        with bounded(deadline=200.0, stop=second, each=2.0) as inner:
            assert inner == Scope(deadline=100.0, stop=(first, second), each=2.0)
        assert current_scope() == Scope(deadline=100.0, stop=(first,), each=5.0)
    assert current_scope() == Scope()


def test_a_watch_says_why_it_is_due_and_whether_to_try_again() -> None:
    stop = threading.Event()
    assert Watch(60.0, Scope()).due() is None
    assert Watch(0.0, Scope()).due() == ("too slow", False)  # its own limit: retried
    assert Watch(60.0, Scope(each=0.0)).due() == ("too slow", True)  # the caller's: final
    assert Watch(60.0, Scope(deadline=time.monotonic())).due() == ("deadline", True)
    stop.set()
    assert Watch(60.0, Scope(stop=(stop,))).due() == ("stopped", True)
    assert Watch(1.0, Scope()).due(early=2.0) == ("too slow", False)


def test_expiring_a_watch_wakes_a_blocked_receive() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:

        class Connection:
            sock = ours

        watch = Watch(60.0, Scope())
        watch.attach(Connection())
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(ours.recv(10)))
        reader.start()
        time.sleep(0.1)
        watch.expire("stopped", True)
        reader.join(2.0)
        assert not reader.is_alive()
        assert got == [b""]  # the receive returned: the socket was shut down
        assert (watch.reason, watch.final) == ("stopped", True)


def test_an_odd_connection_or_a_released_watch_is_left_alone() -> None:
    class Odd:
        sock = object()  # not a socket: nothing to shut, and no error either

    watch = Watch(60.0, Scope())
    watch.attach(Odd())
    watch.expire("too slow", False)
    assert watch.reason == "too slow"
    ours, theirs = socket.socketpair()
    with ours, theirs:

        class Connection:
            sock = ours

        released = Watch(0.0, Scope())
        released.attach(Connection())
        released.release()  # the connection went back to the pool
        released.check()
        assert released.reason is None
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x"  # still open


def test_a_stop_event_ends_a_watched_request_within_a_tick() -> None:
    stop = threading.Event()
    ours, theirs = socket.socketpair()
    with ours, theirs, bounded(stop=stop), watched(60.0) as watch:

        class Connection:
            sock = ours

        watch.attach(Connection())
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        assert ours.recv(10) == b""  # woken by the watchdog, not by the peer
        assert time.monotonic() - started < 1.0
        assert watch.reason == "stopped"
