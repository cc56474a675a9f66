import http.server
import os
import subprocess
import threading

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests compare two training runs bit for bit (resumed against uninterrupted, one process
# against another): oneDNN's CPU kernels differ in the last bits from run to run on a busy
# machine (the suite runs two workers on two cores). The programs the tests start inherit it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


import numpy as np  # noqa: E402
import pytest  # noqa: E402




def same_worker(name):
    """A mark for the tests that share an expensive module fixture (a training run, an export,
    an installed wheel): under `-n` they all run on one pytest-xdist worker (pytest.ini's
    `--dist loadgroup`), so the fixture is made once, not once on each worker."""
    return pytest.mark.xdist_group(name)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize_weights(layer, rng, scale=0.4):
    """Random values everywhere (biases, norms and sigmas too), so no weight goes untested."""
    for weight in layer.weights:
        value = rng.normal(0.0, scale, size=weight.shape)
        if weight.name == "gamma":
            value = 1.0 + value
        weight.assign(value.astype(weight.dtype))


SHARED_DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data")


def real_data(name):
    """Path of ../shared/data/<name>; skips without it, but fails under CI=true."""
    path = os.path.abspath(os.path.join(SHARED_DATA, name))
    if not os.path.isdir(path):
        message = f"real data not found at {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: real-data tests must run)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def real_data_cache(tmp_path_factory):
    """One cache folder for the real datasets' prepared files, shared by the tests and the
    tools they run on every pytest-xdist worker (a session's workers' temporary folders share
    a parent): each source is parsed, and each setting tokenised, once a session. Preparing is
    safe side by side (`kasm_keras.utils.files.preparing`: one preparer, the others reuse)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "real_data_cache"
    path.mkdir(exist_ok=True)
    return path


# A folder holding the pinned sktime wheel (or the UEA .ts files), for the time-series tests on
# real data: .ci/run downloads the wheel with pip and sets it; ../shared/data does not hold them.
TIME_SERIES_DATA = "KASM_KERAS_TIME_SERIES_DATA"


def real_time_series_data():
    """The folder $KASM_KERAS_TIME_SERIES_DATA names; skips without it, but fails under CI=true."""
    path = os.environ.get(TIME_SERIES_DATA)
    if not path or not os.path.isdir(path):
        message = (f"${TIME_SERIES_DATA} is {'not set' if not path else f'{path}, no folder'} "
                   "(pip download sktime==1.2.0 --no-deps -d DIR, then set it to DIR)")
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: real-data tests must run)")
        pytest.skip(message)
    return path


class FileServer:
    """Serves `files` (path -> bytes) and counts requests; /short promises more than it sends;
    `answers` (path -> function of the request handler) answer their paths as they like (a
    mirror that trickles, one that streams without end)."""

    def __init__(self):
        self.files = {}
        self.answers = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path in server.answers:
                    server.answers[self.path](self)
                    self.close_connection = True
                    return
                if self.path == "/short":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"x" * 500)
                    self.close_connection = True
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"


@pytest.fixture
def server():
    """A file server on 127.0.0.1 (never any other address), shut down after the test."""
    s = FileServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join(5)


@pytest.fixture
def small_disk(tmp_path):
    """`small_disk(size)`: a new tmpfs of `size` (e.g. "2m"), unmounted after the test. Mounting
    needs root: elsewhere the test is skipped, never under CI=true (CI runs as root)."""
    mounted = []

    def mount(size):
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        if os.geteuid() != 0 or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                capture_output=True).returncode != 0:
            if os.environ.get("CI") == "true":
                pytest.fail("CI=true: the full-disk tests must run (as root, to mount a tmpfs)")
            pytest.skip("mounting a small tmpfs needs root")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def pytest_collection_modifyitems(items):
    """tf.test.TestCase's `test_session` (a session helper that TFDS's builder test inherits) is
    collected as a test and reported as a skip; it is not one."""
    items[:] = [item for item in items if item.name != "test_session"]
