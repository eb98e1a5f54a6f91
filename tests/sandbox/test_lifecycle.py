"""Task lifecycle, task records as Wiro shapes them, Cancel/Kill rules, the concurrency limit,
Task/List, callbacks and the failure triggers."""

from __future__ import annotations

import http.server
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from wiro_widgets.protocol import STATUS_ORDER, TERMINAL_STATUSES
from wiro_widgets.specs import FLUX_2_FLEX

from .wire import Api, assert_envelope, join_lifecycle, png_bytes

# Every key of the Task/Detail and Kill samples on the model page.
SAMPLE_KEYS = {
    "id", "uuid", "name", "socketaccesstoken", "parameters", "debugoutput", "debugerror",
    "starttime", "endtime", "elapsedseconds", "status", "cps", "totalcost", "guestid",
    "projectid", "modelid", "description", "basemodelid", "runtype", "modelfolderid",
    "modelfileid", "callbackurl", "marketplaceid", "createtime", "canceltime", "assigntime",
    "accepttime", "preprocessstarttime", "preprocessendtime", "postprocessstarttime",
    "postprocessendtime", "pexit", "categories", "outputs", "size",
}
OUTPUT_KEYS = {"id", "name", "contenttype", "parentid", "uuid", "size", "addedtime",
               "modifiedtime", "accesskey", "url", "ispublic", "expiretime"}
TIME_KEYS = ("createtime", "accepttime", "preprocessstarttime", "preprocessendtime",
             "assigntime", "starttime", "endtime", "postprocessstarttime",
             "postprocessendtime")


def _statuses(sb: Any, task_id: str) -> list[str]:
    task = next(t for t in sb.tasks if t.id == task_id)
    out: list[str] = []
    for status, _ in task.history:
        if not out or out[-1] != status:
            out.append(status)
    return out


def test_successful_task_walks_the_documented_order(sandbox: Any, api: Api) -> None:
    answer = api.run_ok(prompt="order", steps=3, width=256, height=128)
    record = api.wait(answer["socketaccesstoken"])
    assert _statuses(sandbox, answer["taskid"]) == list(STATUS_ORDER)
    task = next(t for t in sandbox.tasks if t.id == answer["taskid"])
    assert [s for s, _ in task.history].count("task_output") == 3
    times = [t for _, t in task.history]
    assert times == sorted(times)
    assert record["status"] == "task_postprocess_end"
    assert record["pexit"] == "0"


def test_record_has_the_sample_shape_with_string_numbers(sandbox: Any, api: Api) -> None:
    answer = api.run_ok(prompt="shape", steps=2, width=320, height=192, seed=9)
    api.wait(answer["socketaccesstoken"])
    body = api.post("/Task/Detail", json={"taskid": answer["taskid"]}).json()
    assert body["result"] is True
    assert body["errors"] == []
    assert body["total"] == "1"
    record = body["tasklist"][0]
    assert set(record) >= SAMPLE_KEYS
    assert record["id"] == answer["taskid"]
    assert record["socketaccesstoken"] == answer["socketaccesstoken"]
    for key in (*TIME_KEYS, "size"):
        assert isinstance(record[key], str), key
        assert record[key].isdigit(), key
        assert record[key] != "0", key
    assert record["canceltime"] == "0"
    assert float(record["elapsedseconds"]) > 0
    assert "." in record["elapsedseconds"]
    expected = FLUX_2_FLEX.estimate_cost({"width": 320, "height": 192, "input_images": []})
    assert isinstance(record["totalcost"], str)
    assert float(record["totalcost"]) == pytest.approx(
        expected)
    assert float(record["cps"]) == pytest.approx(
        float(record["totalcost"]) / float(record["elapsedseconds"]), rel=1e-3)
    assert record["modelslugowner"] == "black-forest-labs"
    assert record["modelslugproject"] == "flux-2-flex"
    assert record["parameters"]["prompt"] == "shape"
    (output,) = record["outputs"]
    assert set(output) >= OUTPUT_KEYS
    assert output["name"] == "0.png"
    assert output["contenttype"] == "image/png"
    data = requests.get(output["url"], timeout=10).content
    assert output["size"] == record["size"] == str(len(data))
    assert output["url"].startswith(sandbox.base_url.removesuffix("/v1") + "/cdn/")


def test_detail_by_each_identifier_and_errors(api: Api) -> None:
    answer = api.run_ok(steps=1)
    by_id = api.detail(taskid=answer["taskid"])
    by_int = api.detail(taskid=int(answer["taskid"]))
    by_token = api.detail(tasktoken=answer["socketaccesstoken"])
    by_socket = api.detail(socketaccesstoken=answer["socketaccesstoken"])
    assert by_id["id"] == by_int["id"] == by_token["id"] == by_socket["id"] == answer["taskid"]
    assert_envelope(api.post("/Task/Detail", json={"taskid": "1"}), 200, 1,
                    "There is no task yet.")
    assert_envelope(api.post("/Task/Detail", json={"tasktoken": "nope"}), 200, 1,
                    "There is no task yet.")
    assert_envelope(api.post("/Task/Detail", json={}), 200, 0,
                    "taskid or socketaccesstoken is required")
    form = api.post("/Task/Detail", files={"taskid": (None, answer["taskid"])}).json()
    assert form["tasklist"][0]["id"] == answer["taskid"]


def test_running_task_has_empty_pexit_then_cancel(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    with sb.gate("task_queue") as queued:
        answer = api.run_ok(steps=50)
        queued.wait_reached(answer["taskid"])
        record = api.detail(tasktoken=answer["socketaccesstoken"])
        cancelled = api.post("/Task/Cancel", json={"taskid": answer["taskid"]}).json()
    assert record["status"] not in TERMINAL_STATUSES
    assert record["pexit"] == ""
    assert record["totalcost"] == "0"
    assert record["outputs"] == []
    assert record["endtime"] == "0"
    assert cancelled["result"] is True
    assert cancelled["errors"] == []
    (final,) = cancelled["tasklist"]
    assert final["status"] == "task_cancel"
    assert final["canceltime"] != "0"
    assert final["totalcost"] == "0"
    assert final["outputs"] == []
    statuses = _statuses(sb, answer["taskid"])
    assert statuses[-1] == "task_cancel"
    assert "task_assign" not in statuses
    join_lifecycle(answer["taskid"])   # it must not carry on after a cancel
    assert api.detail(taskid=answer["taskid"])["status"] == "task_cancel"
    assert _statuses(sb, answer["taskid"]) == ["task_queue", "task_cancel"]
    assert sb.wait_idle(1.0)


def test_cancel_accepts_each_identifier(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    with sb.gate("task_queue") as queued:
        for key in ("taskid", "tasktoken", "socketaccesstoken"):
            answer = api.run_ok()
            queued.wait_reached(answer["taskid"])
            value = answer["taskid"] if key == "taskid" else answer["socketaccesstoken"]
            body = api.post("/Task/Cancel", json={key: value}).json()
            assert body["tasklist"][0]["status"] == "task_cancel", (key, body)


def test_cancel_refused_once_running_kill_works(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    with sb.gate("task_output", step=2) as generating:
        answer = api.run_ok(steps=50)
        token = answer["socketaccesstoken"]
        generating.wait_reached(answer["taskid"])
        assert_envelope(api.post("/Task/Cancel", json={"taskid": answer["taskid"]}), 200, 1,
                        "Task is not in a cancellable state.")
        killed = api.post("/Task/Kill", json={"socketaccesstoken": token}).json()
    assert killed["result"] is True
    assert killed["errors"] == []
    final = killed["tasklist"][0]
    assert final["status"] == "task_cancel"
    assert final["outputs"] == []
    assert final["canceltime"] != "0"
    assert final["totalcost"] == "0"
    join_lifecycle(answer["taskid"])
    assert api.detail(tasktoken=token)["status"] == "task_cancel"
    assert _statuses(sb, answer["taskid"])[-2:] == ["task_output", "task_cancel"]


def test_kill_refused_while_queued_and_after_the_end(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    with sb.gate("task_queue") as gate:
        queued = api.run_ok()
        gate.wait_reached(queued["taskid"])
        error = assert_envelope(api.post("/Task/Kill", json={"taskid": queued["taskid"]}),
                                200, 1)
        assert error["message"].startswith("Task could not be killed: ")
        api.post("/Task/Cancel", json={"taskid": queued["taskid"]})
    error = assert_envelope(api.post("/Task/Kill", json={"taskid": queued["taskid"]}), 200, 1)
    assert error["message"].startswith("Task could not be killed: ")
    assert_envelope(api.post("/Task/Cancel", json={"taskid": queued["taskid"]}), 200, 1,
                    "Task is not in a cancellable state.")
    assert_envelope(api.post("/Task/Kill", json={"taskid": "1"}), 200, 1,
                    "There is no task yet.")
    assert_envelope(api.post("/Task/Cancel", json={}), 200, 0, "required")


def test_concurrency_limit_answers_code_96(make_sandbox: Any) -> None:
    sb = make_sandbox(concurrency_limit=2)
    api = Api(sb)
    with sb.gate("task_queue") as queued:  # both stay active until the end
        first, second = api.run_ok(), api.run_ok()
        error = assert_envelope(api.run(json={"prompt": "third"}), 200, 96)
        assert error["message"].startswith("You have reached your concurrent task limit.")
        assert "run up to 2 tasks" in error["message"]
        assert len(sb.tasks) == 2
        api.post("/Task/Cancel", json={"taskid": first["taskid"]})
        assert api.run_ok()["taskid"]
        assert queued.held == [second["taskid"], sb.tasks[-1].id]


def test_task_list_newest_first_with_paging(make_sandbox: Any) -> None:
    sb = make_sandbox(concurrency_limit=None)
    api = Api(sb)
    ids = [api.run_ok(steps=1)["taskid"] for _ in range(3)]
    body = api.post("/Task/List", json={"type": "model", "sort": "id", "order": "DESC",
                                        "start": "0", "limit": "20"}).json()
    assert body["result"] is True
    assert body["total"] == "3"
    assert [t["id"] for t in body["tasklist"]] == ids[::-1]
    page = api.post("/Task/List", json={"start": 1, "limit": 1}).json()
    assert [t["id"] for t in page["tasklist"]] == [ids[1]]
    assert page["total"] == "3"
    oldest = api.post("/Task/List", json={"order": "ASC", "limit": "1"}).json()
    assert oldest["tasklist"][0]["id"] == ids[0]
    assert set(body["tasklist"][0]) >= SAMPLE_KEYS


def test_wait_idle_and_task_snapshots(make_sandbox: Any) -> None:
    sb = make_sandbox(speed=40.0, concurrency_limit=None)
    api = Api(sb)
    for _ in range(3):
        api.run_ok(steps=2)
    assert sb.wait_idle(10.0)
    assert all(t.terminal and t.pexit == "0" for t in sb.tasks)
    snapshot = sb.tasks
    snapshot[0].status = "edited"
    snapshot[0].params["prompt"] = "edited"
    assert sb.tasks[0].status == "task_postprocess_end"
    assert sb.tasks[0].params["prompt"] != "edited"


@pytest.fixture
def callback_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def test_callback_receives_the_final_record(sandbox: Any, api: Api,
                                            callback_server: Any) -> None:
    url, received = callback_server
    answer = api.run_ok(steps=2, callbackUrl=url)
    _wait_for(lambda: received)
    (posted,) = received
    assert posted["id"] == answer["taskid"]
    assert posted["status"] == "task_postprocess_end"
    assert posted["callbackurl"] == url
    assert posted["pexit"] == "0"
    assert posted["outputs"]

    def task() -> Any:
        return next(t for t in sandbox.tasks if t.id == answer["taskid"])

    _wait_for(lambda: task().callbacks)   # recorded once the hook has answered
    assert task().callbacks == [{"url": url, "status": 204, "error": None, "skipped": None}]
    assert "callbackUrl" not in api.detail(taskid=answer["taskid"])["parameters"]


def test_callback_to_outside_hosts_is_recorded_not_sent(sandbox: Any, api: Api) -> None:
    answer = api.run_ok(steps=1, callbackUrl="https://hooks.example.com/wiro")
    _wait_for(lambda: next(t for t in sandbox.tasks if t.id == answer["taskid"]).callbacks)
    (entry,) = next(t for t in sandbox.tasks if t.id == answer["taskid"]).callbacks
    assert entry["skipped"]
    assert entry["status"] is None


def test_moderation_trigger(api: Api) -> None:
    answer = api.run_ok(prompt="an NSFW scene", safetyTolerance=2)
    record = api.wait(answer["socketaccesstoken"])
    assert record["status"] == "task_postprocess_end"
    assert record["pexit"] == "1"
    assert record["outputs"] == []
    assert record["totalcost"] == "0"
    assert record["debugerror"].startswith("Request Moderated:")
    lenient = api.wait(api.run_ok(prompt="an nsfw scene", safetyTolerance=5,
                                  steps=1)["socketaccesstoken"])
    assert lenient["pexit"] == "0"
    assert lenient["outputs"]


def test_fail_trigger(api: Api) -> None:
    record = api.wait(api.run_ok(prompt="please fail-me now", steps=4)["socketaccesstoken"])
    assert record["status"] == "task_postprocess_end"
    assert record["pexit"] == "1"
    assert record["debugerror"].startswith("Generation failed:")
    assert record["outputs"] == []
    assert record["totalcost"] == "0"
    assert record["size"] == "0"


def test_error_trigger_ends_as_the_docs_say(sandbox: Any, api: Api) -> None:
    # A failure before the model runs ends like any failure: task_postprocess_end, pexit 1.
    answer = api.run_ok(prompt="ERROR-ME")
    record = api.wait(answer["socketaccesstoken"])
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "1")
    assert record["debugerror"] == "Output folder creation failed"
    assert (record["outputs"], record["totalcost"]) == ([], "0")
    statuses = _statuses(sandbox, answer["taskid"])
    assert "task_error" not in statuses
    assert "task_start" not in statuses                # it never ran
    assert statuses[-1] == "task_postprocess_end"


def test_error_trigger_in_the_task_error_status_fault_mode(make_sandbox: Any) -> None:
    # Wiro-MCP's reading, kept as an opt-in fault: Detail's final status is task_error.
    sb = make_sandbox(faults={"task_error_status": True})
    api = Api(sb)
    answer = api.run_ok(prompt="ERROR-ME")
    record = api.wait(answer["socketaccesstoken"])
    assert record["status"] == "task_error"
    assert record["debugerror"] == "Output folder creation failed"
    assert record["pexit"] == ""
    assert _statuses(sb, answer["taskid"])[-1] == "task_error"


def test_references_change_cost_inputs_and_preprocessing(sandbox: Any, api: Api) -> None:
    files = [("inputImage", ("a.png", png_bytes(), "image/png")), ("prompt", (None, "x")),
             ("steps", (None, "1")), ("width", (None, "1024")), ("height", (None, "1024"))]
    answer = api.run(files=files).json()
    record = api.wait(answer["socketaccesstoken"])
    assert record["pexit"] == "0"
    expected = FLUX_2_FLEX.estimate_cost({"width": 1024, "height": 1024,
                                          "input_images": [None]})
    assert float(record["totalcost"]) == pytest.approx(expected)


def test_a_size_left_out_with_a_reference_matches_the_reference(sandbox: Any, api: Api) -> None:
    # The model page: "Set it to 0 or do not send if you want to match input image".
    files = [("inputImage", ("a.png", png_bytes(320, 192), "image/png")),
             ("prompt", (None, "x")), ("steps", (None, "1"))]
    record = api.wait(api.run(files=files).json()["socketaccesstoken"])
    assert record["pexit"] == "0"
    assert "width" not in record["parameters"]
    (output,) = record["outputs"]
    image = Image.open(io.BytesIO(requests.get(output["url"], timeout=10).content))
    assert image.size == (320, 192)
    expected = FLUX_2_FLEX.estimate_cost({"width": 320, "height": 192, "input_images": [None]})
    assert float(record["totalcost"]) == pytest.approx(expected)
