"""Serve a folder on 127.0.0.1 for benchmarks: nginx when available, else a Python fallback.

nginx runs in the foreground (``daemon off``) from a generated config in a work folder, so the
benchmark owns its process and stops it by pid. ETag and Last-Modified are on (nginx answers
If-None-Match / If-Modified-Since with 304), gzip is off, one worker process (the machine has
two cores; the crawler under test needs the other). Every request is logged as
``STATUS METHOD URI BYTES`` so a benchmark can count 304s between two marks.

When nginx is missing, ``apt-get install -y nginx`` is tried (as root only). If that fails the
fallback is Python's ThreadingHTTPServer with the same ETag / Last-Modified / 304 behaviour;
``StaticServer.note`` says which one ran, and benchmarks print it, because the fallback is far
slower than nginx and its figures are not comparable.

    python3 benchmarks/nginx.py FOLDER    # serve FOLDER until Ctrl-C (manual checks)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NGINX_CONF = """\
worker_processes 1;
{user}
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{
        application/rss+xml xml;
        text/html html;
        text/plain txt;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/html application/rss+xml text/plain;
    log_format bench '$status $request_method $request_uri $body_bytes_sent';
    access_log {work}/access.log bench;
    client_body_temp_path {work}/tmp_body;
    proxy_temp_path {work}/tmp_proxy;
    fastcgi_temp_path {work}/tmp_fastcgi;
    uwsgi_temp_path {work}/tmp_uwsgi;
    scgi_temp_path {work}/tmp_scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 10000;
    gzip off;
    etag on;
    if_modified_since exact;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        location / {{ try_files $uri =404; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_nginx(install: bool = True) -> str | None:
    """Path of the nginx binary, installing Debian's package when allowed and possible."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("nginx not found: running apt-get install -y nginx", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            return None
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


@dataclass
class StaticServer:
    base_url: str
    root: Path
    access_log: Path
    kind: str
    note: str
    _process: subprocess.Popen[bytes] | None = None
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def log_mark(self) -> int:
        """Position in the access log; pass it to ``statuses_since``."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def statuses_since(self, mark: int, path_prefix: str = "/") -> Counter[int]:
        """HTTP statuses of the requests for ``path_prefix...`` logged since ``mark``."""
        time.sleep(0.05)  # nginx writes each line at request end; let the last one land
        if not self.access_log.exists():
            return Counter()
        with self.access_log.open("rb") as log:
            log.seek(mark)
            rows = (line.split(b" ", 3) for line in log if line.strip())
            prefix = path_prefix.encode()
            return Counter(int(row[0]) for row in rows if row[2].startswith(prefix))

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> StaticServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"nginx exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(base_url + "/robots.txt", timeout=1):
                return
        except OSError as e:
            if getattr(e, "code", None) is not None:  # any HTTP answer (404 too) means it is up
                return
            time.sleep(0.05)
    raise RuntimeError(f"server at {base_url} did not answer within 10 s")


def start_nginx(nginx: str, root: Path, work: Path) -> StaticServer:
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # As root, nginx would drop its workers to "nobody", who cannot read a 0700 temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = work / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(user=user, work=work, port=port, root=root.resolve()), "utf-8"
    )
    process = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base_url, process)
    except RuntimeError:
        process.kill()
        stderr = process.communicate()[1].decode(errors="replace")
        raise RuntimeError(f"nginx failed to start: {stderr.strip()}") from None
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    note = f"{version.strip()} (1 worker, ETag/Last-Modified on, gzip off, sendfile)"
    return StaticServer(base_url, root, work / "access.log", "nginx", note, _process=process)


_CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    "": "application/octet-stream",
}


class _Handler(SimpleHTTPRequestHandler):
    """Static files with ETag + If-None-Match (the stdlib only does Last-Modified)."""

    server_version = "bench-fallback"
    extensions_map = _CONTENT_TYPES
    access_log: Path
    protocol_version = "HTTP/1.1"

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            stat = path.stat()
            etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return None
            self._etag: str | None = etag
        return super().send_head()

    def end_headers(self) -> None:
        etag = getattr(self, "_etag", None)
        if etag:
            self.send_header("ETag", etag)
            self._etag = None
        super().end_headers()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        line = f"{int(code)} {self.command} {self.path} {size}\n"
        with self.access_log.open("a", encoding="utf-8") as log:
            log.write(line)

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass


def start_fallback(root: Path, work: Path, why: str) -> StaticServer:
    work.mkdir(parents=True, exist_ok=True)
    access_log = work / "access.log"
    handler = type("Handler", (_Handler,), {"access_log": access_log})

    def make(*args: Any) -> _Handler:
        return handler(*args, directory=str(root))  # type: ignore[no-any-return]

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), make)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    _wait_until_serving(base_url, None)
    note = (
        f"FALLBACK Python ThreadingHTTPServer ({why}); in the benchmark process, much "
        "slower than nginx: figures are NOT comparable with nginx runs"
    )
    return StaticServer(base_url, root, access_log, "python", note, _httpd=httpd, _thread=thread)


def serve_directory(root: Path, work: Path, install: bool = True) -> StaticServer:
    """Start a loopback static server for ``root``; logs and config go to ``work``."""
    nginx = find_nginx(install)
    if nginx is None:
        return start_fallback(root, work, "nginx not installed and could not be installed")
    try:
        return start_nginx(nginx, root, work)
    except RuntimeError as e:
        return start_fallback(root, work, str(e))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    work = Path("/tmp") / f"bench-nginx-{os.getpid()}"
    # A plain `kill` must stop nginx too, not leave it orphaned.
    signal.signal(signal.SIGTERM, _interrupt)
    with serve_directory(root.resolve(), work) as server:
        print(f"serving {root} at {server.base_url} ({server.note}); Ctrl-C stops")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
