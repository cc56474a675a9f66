import http.server
import os
import threading

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


# The measurement and README code lives with the tools, outside the library's import path.
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools")
sys.path.insert(0, os.path.abspath(TOOLS))


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


class FileServer:
    """Serves `files` (path -> bytes) and counts requests; /short promises more than it sends."""

    def __init__(self):
        self.files = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
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
