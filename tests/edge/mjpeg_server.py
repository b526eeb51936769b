"""A real MJPEG-over-HTTP camera for tests: serves frames of a real video, can go away."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2

BOUNDARY = "frame"


def load_jpegs(video: Path, count: int) -> list[bytes]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image)[1].tobytes())
    capture.release()
    return frames


class MjpegCamera:
    """Serves ``multipart/x-mixed-replace`` JPEG frames at ``fps`` on a loopback port."""

    def __init__(self, jpegs: list[bytes], port: int, fps: float = 25.0) -> None:
        self.jpegs, self.port, self.fps = jpegs, port, fps
        self.url = f"http://127.0.0.1:{port}/stream.mjpg"
        self._server: ThreadingHTTPServer | None = None
        self._running = threading.Event()
        self.paused = threading.Event()

    def start(self) -> None:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                index = 0
                try:
                    while camera._running.is_set():
                        if camera.paused.is_set():  # connection open, no frames: a stall
                            time.sleep(0.05)
                            continue
                        jpeg = camera.jpegs[index % len(camera.jpegs)]
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                        )
                        self.wfile.write(jpeg + b"\r\n")
                        index += 1
                        time.sleep(1 / camera.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._running.set()
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go away: stop streaming, close every connection and the listening socket."""
        self._running.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        time.sleep(0.2)
