"""--ui: the run's page in a real browser (Debian's chromium, driven through chromedriver), its Prometheus metrics
parsed by prometheus-client's own parser, /healthz, and how the server refuses what it should. Every run here is
the real command on a live stdin, fed line by line while the page is read."""
import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from conftest import installed_dstream, need_pyspark, spark_env, wait_for
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
#: where the page's screenshot is kept (CI keeps the directory); DSTREAM_SCREENSHOT names another copy
ARTIFACTS = ROOT / "test-artifacts"


@contextlib.contextmanager
def running_with_page(args: list[str], line=lambda i: " ".join(f"w{j % 7}" for j in range(i % 40)),
                      every_s: float = 0.01, env=None, startup_s: float = 30):
    """The command with --ui on a free port, its stdin fed *line(i)* every *every_s* until the block ends; yields
    (process, page URL). Then stdin closes and the run must end by itself, exit 0."""
    process = subprocess.Popen([*installed_dstream(), "--ui", "127.0.0.1:0", *args], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    feeding = threading.Event()

    def feed():
        i = 0
        with contextlib.suppress(BrokenPipeError, ValueError):
            while not feeding.is_set():
                process.stdin.write(line(i) + "\n")
                process.stdin.flush()
                i += 1
                time.sleep(every_s)

    said = process.stderr.readline()
    match = re.match(r"dstream: the run's page is at (http://127\.0\.0\.1:\d+/) \(Prometheus metrics at \1metrics\)$",
                     said.strip())
    assert match, said + process.stderr.read()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield process, match.group(1)
    finally:
        feeding.set()
        feeder.join()
        process.stdin.close()
        rest = process.stderr.read()
        assert process.wait(timeout=startup_s + 30) == 0, rest


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def metric_values(url: str) -> dict:
    """Every sample of /metrics by (name, labels), through prometheus-client's parser."""
    status, content_type, body = get(url + "metrics")
    assert status == 200 and content_type.startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode()) for sample in family.samples}


METRICS = ("rate", "scheduling_ms", "processing_ms", "total_ms")
#: the page redraws every poll: what a test reads is read in one script, between two redraws
READ_PAGE = """
const text = id => document.getElementById(id).textContent;
const count = selector => document.querySelectorAll(selector).length;
const points = key => {
  const line = document.querySelector(`#timeline-${key} polyline`);
  return line ? line.getAttribute("points").split(" ").length : 0;
};
return {
  points: Object.fromEntries(arguments[0].map(key => [key, points(key)])),
  bars: Object.fromEntries(arguments[0].map(key => [key, count(`#histogram-${key} rect.bar`)])),
  batches_total: Number(text("batches-total").replace(/,/g, "")),
  inputs: document.getElementById("inputs").innerText, outputs: document.getElementById("outputs").innerText,
  batch_rows: count("#batches tr"), checkpoint_age: text("checkpoint-age"), status: text("status"),
};
"""


def read_page(browser) -> dict:
    return browser.execute_script(READ_PAGE, list(METRICS))


@pytest.fixture(scope="module")
def browser():
    """Headless chromium with its driver, as the Debian packages chromium and chromium-driver install them
    (.ci/run installs them); without them CI fails, elsewhere the test is skipped saying what to install."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        message = "the --ui page is tested in Debian's chromium: apt-get install chromium chromium-driver"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # no network beyond loopback here: the background and update traffic is turned off
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def test_the_page_draws_its_charts_and_tables_and_they_move_as_batches_run(browser, tmp_path):
    with running_with_page(["--batch", "200ms", "--checkpoint", str(tmp_path / "ck"), "--checkpoint-interval", "1s",
                            "flat-map", "x.split()", "map", "(x, 1)", "reduce-by-key-and-window", "sum", "2s",
                            "--inverse", "a - b", "emit"]) as (_, url):
        browser.get(url)
        wait_for(lambda: read_page(browser)["points"]["rate"] >= 5, timeout=30, what="the input rate's timeline")
        before = read_page(browser)
        assert all(count >= 5 for count in before["points"].values()), before
        assert all(count > 0 for count in before["bars"].values()), before
        wait_for(lambda: read_page(browser)["batches_total"] >= before["batches_total"] + 5, timeout=30,
                 what="the page to move on by itself")
        after = read_page(browser)
        assert all(after["points"][key] > before["points"][key] for key in METRICS), (before, after)
        assert after["inputs"].startswith("stdin\t") and "/s" in after["inputs"]
        assert after["outputs"].startswith("stage 4 (emit)\t")
        assert after["batch_rows"] == min(15, after["batches_total"])
        assert re.fullmatch(r"\d+s", after["checkpoint_age"]) and after["status"] == "live"
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "ui.png"))
        if os.environ.get("DSTREAM_SCREENSHOT"):  # README's picture: DSTREAM_SCREENSHOT=docs/ui.png pytest ...
            shutil.copy(ARTIFACTS / "ui.png", ROOT / os.environ["DSTREAM_SCREENSHOT"])
    # the run has ended: the page, still open, says so
    wait_for(lambda: "ended" in read_page(browser)["status"], timeout=20, what="the ended status")


def test_metrics_parse_as_prometheus_text_and_the_counters_grow():
    with running_with_page(["--batch", "200ms", "--max-rate", "500", "map", "x.split()[0] if x else x",
                            "count-by-value", "emit"]) as (_, url):
        wait_for(lambda: metric_values(url).get(("dstream_batches_total", ())), timeout=30, what="a batch")
        first = metric_values(url)
        wait_for(lambda: metric_values(url)[("dstream_batches_total", ())] >= first[("dstream_batches_total", ())] + 3,
                 timeout=30, what="more batches")
        then = metric_values(url)
        records = ("dstream_records_total", (("input", "stdin"),))
        assert then[records] > first.get(records, 0) > 0
        assert then[("dstream_processing_seconds_count", ())] == then[("dstream_batches_total", ())]
        assert ("dstream_processing_seconds_bucket", (("le", "+Inf"),)) in then
        assert ("dstream_scheduling_delay_seconds_sum", ()) in then and ("dstream_total_delay_seconds_sum", ()) in then
        assert ("dstream_backlog_records", (("input", "stdin"),)) in then
        assert then[("dstream_rate_limit_records_per_second", ())] == 500
        assert then[("dstream_batch_interval_seconds", ())] == 0.2
        assert ("dstream_late_records_total", ()) in then and ("dstream_watermark_timestamp_seconds", ()) not in then
        assert then[("dstream_output_last_write_timestamp_seconds", (("output", "stage 3 (emit)"),))] > 1.7e9
        status, content_type, body = get(url + "healthz")
        assert (status, content_type, orjson.loads(body)["status"]) == (200, "application/json", "ok")
        state = orjson.loads(get(url + "api/state")[2])
        assert state["engine"] == "local" and state["batches"][-1]["records"] >= 0


def test_the_page_is_read_only_and_answers_only_its_paths():
    with running_with_page(["--batch", "200ms", "count"]) as (_, url):
        request = urllib.request.Request(url + "metrics", data=b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert (refused.value.code, refused.value.headers["Allow"]) == (405, "GET, HEAD")
        assert get(url + "nope")[0] == 404
        status, content_type, body = get(url)
        assert (status, content_type) == (200, "text/html; charset=utf-8")
        assert b"<script" in body and b"http" not in body.replace(b"http://www.w3.org/2000/svg", b"")  # no CDN


def test_event_time_shows_the_watermark_and_the_late_records():
    def line(i: int) -> str:  # a record every second of event time, and every tenth from a minute before
        return f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z x" if i % 10 else "2025-12-31T23:00:00Z late"

    with running_with_page(["--batch", "1s", "--event-time", "x.split()[0]", "--late", "drop", "count"],
                           line=line, every_s=0.005) as (_, url):
        wait_for(lambda: metric_values(url).get(("dstream_late_records_total", ()), 0) > 0, timeout=30,
                 what="late records counted")
        values = metric_values(url)
        assert 1767225600 <= values[("dstream_watermark_timestamp_seconds", ())] < 1767225600 + 3600  # 2026-01-01
        state = orjson.loads(get(url + "api/state")[2])
        assert state["late_total"] > 0  # read after /metrics: its watermark may only have moved on
        assert state["watermark_ms"] / 1000 >= values[("dstream_watermark_timestamp_seconds", ())]


def test_a_port_in_use_is_one_line_and_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*installed_dstream(), "--ui", str(port), "count"], input="a\n",
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == f"dstream: --ui 127.0.0.1:{port}: cannot serve the page: the port is in use\n"


def test_a_bad_address_is_a_usage_error():
    result = subprocess.run([*installed_dstream(), "--ui", "localhost:http", "count"], input="a\n",
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (
        2, "dstream: --ui localhost:http: expected [HOST:]PORT, with PORT a number from 0 to 65535\n")


def test_the_page_on_spark_is_fed_by_sparks_listener():
    need_pyspark()
    with running_with_page(["--engine", "spark", "--master", "local[2]", "--batch", "1s", "flat-map", "x.split()",
                            "count-by-value", "emit"], env=spark_env(), every_s=0.02) as (_, url):
        wait_for(lambda: metric_values(url).get(("dstream_records_total", (("input", "stdin"),)), 0) > 0,
                 timeout=90, what="Spark's batches with records")
        first = metric_values(url)[("dstream_batches_total", ())]
        wait_for(lambda: metric_values(url)[("dstream_batches_total", ())] >= first + 2, timeout=30,
                 what="more of Spark's batches")
        state = orjson.loads(get(url + "api/state")[2])
        assert state["engine"] == "spark"
        assert [i["name"] for i in state["inputs"]] == ["stdin"] and state["inputs"][0]["records_total"] > 0
        assert [(o["name"], o["failures"]) for o in state["outputs"]] == [("stage 3 (emit)", 0)]
        assert state["outputs"][0]["writes"] > 0


def test_the_page_is_on_loopback_unless_a_host_is_given():
    result = subprocess.run([*installed_dstream(), "--ui", "0", "count"], input="a\n", capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert re.match(r"dstream: the run's page is at http://127\.0\.0\.1:\d+/ ", result.stderr)
