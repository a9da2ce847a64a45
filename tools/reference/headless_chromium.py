"""Headless Chromium for the report checks (check_html_report.py, check_figures.py): one run with a
fresh profile, no network, and a clear failure message on a timeout or a non-zero exit."""
import subprocess
import sys
import tempfile

TIMEOUT_S = 60
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def run(chromium, extra, url):
    """Runs Chromium on `url` with FLAGS + `extra`; returns (stdout, stderr) as text."""
    with tempfile.TemporaryDirectory(prefix="xlens-chromium-") as profile:
        cmd = [chromium, *FLAGS, "--user-data-dir=" + profile, *extra, url]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail("chromium did not finish within %d s: %s" % (TIMEOUT_S, " ".join(cmd)))
        stderr = done.stderr.decode("utf-8", "replace")
        if done.returncode != 0:
            fail("chromium exited with %d: %s\n%s" % (done.returncode, " ".join(cmd), stderr[-2000:]))
        return done.stdout.decode("utf-8", "replace"), stderr
