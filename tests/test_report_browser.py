"""report.html in a real browser (headless Debian chromium): tables and images render, no errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.registry import Registry, make_plugin_manager
from harness.report import build_report
from harness.report.synthetic import FakeRun, store_with

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--virtual-time-budget=10000"]

# Injected into a copy of the page: records failed loads, script errors and console.error calls,
# then (on load) writes what rendered into a <pre id="render-check"> that --dump-dom prints.
PROBE = """<script>
window.__problems = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t !== window && t.tagName) { window.__problems.push('failed load: ' + t.tagName + ' ' + (t.src || t.href)); }
  else { window.__problems.push('error: ' + e.message); }
}, true);
var originalError = console.error;
console.error = function () { window.__problems.push('console: ' + Array.from(arguments).join(' '));
  originalError.apply(console, arguments); };
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var report = {
    images: images.length,
    broken: images.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).map(function (i) { return i.alt; }),
    sizes: images.map(function (i) { return [i.naturalWidth, i.naturalHeight]; }),
    tables: document.querySelectorAll('table').length,
    cells: document.querySelectorAll('td').length,
    scripts: document.scripts.length,
    problems: window.__problems
  };
  var out = document.createElement('pre'); out.id = 'render-check'; out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script>"""


def chromium(page: Path, *args: str, tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)


def probe(report: Path, tmp: Path, name: str = "probe.html", html: str | None = None) -> dict:
    """Render a probed copy of report.html next to it and return what the page saw."""
    text = html if html is not None else (report / "report.html").read_text()
    page = report / name
    page.write_text(text.replace("<head>", "<head>\n" + PROBE, 1))
    result = chromium(page, "--enable-logging=stderr", "--dump-dom", tmp=tmp)
    page.unlink()
    found = re.search(r'<pre id="render-check">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found, f"page did not finish loading; stderr: {result.stderr[-2000:]}"
    data = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    data["console"] = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (the .ci/run script does this)")
    folder = tmp_path_factory.mktemp("browser")
    runs = [FakeRun("sb3.ppo", "CartPole-v1", s, 200.0, start=20.0, points=6, video=True) for s in range(3)]
    runs += [FakeRun("ppo", "CartPole-v1", s, 320.0, start=20.0, points=6, baseline="sb3.ppo") for s in range(3)]
    runs += [FakeRun("ppo", "CartPole-v1", 3, 90.0, points=6, baseline="sb3.ppo", status="FAILED",
                     error="ValueError: <img src=x onerror=console.error('xss')> </table>")]
    uri = store_with(folder / "store", runs)
    registry = Registry(make_plugin_manager(load_entrypoints=False))
    return build_report("demo", uri, folder / "reports", registry=registry, reps=200, log_to_mlflow=False)


def test_tables_and_images_render_without_errors(report, tmp_path):
    seen = probe(report, tmp_path)
    assert seen["problems"] == [] and seen["console"] == [], seen
    assert seen["broken"] == []
    assert seen["images"] >= 6  # curves, improvement, aggregates, profiles, two GIFs
    assert all(w > 40 and h > 30 for w, h in seen["sizes"])
    assert seen["tables"] >= 5 and seen["cells"] > 50
    assert seen["scripts"] == 1  # only the probe: the report itself runs no script, injected or not


def test_probe_catches_a_broken_image(report, tmp_path):
    html = (report / "report.html").read_text().replace("</body>", '<img src="missing.png" alt="gone"></body>')
    seen = probe(report, tmp_path, "broken.html", html)
    assert seen["broken"] == ["gone"] and any("missing.png" in p for p in seen["problems"])


def test_screenshot_shows_the_report(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    result = chromium(report / "report.html", f"--screenshot={shot}", "--window-size=1280,2200", tmp=tmp_path)
    assert shot.exists(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2200, 1280)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01  # text, tables and plots, not a blank page
