"""HAProxy in front of the service's replicas: round robin over those whose /readyz answers 200
(checked every half second, out after two misses), and a request whose replica dies under it
(refused, reset, no answer) taken again by another one, so a killed replica costs no request."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from f1_serving.local import LocalService

HEALTH_PATH = "/balancer/health"  # answered by HAProxy itself: the balancer is up
BUFFER_BYTES = 262_144


def config(port: int, replicas: list[str]) -> str:
    """HAProxy's configuration for `replicas` (host:port each) behind 127.0.0.1:`port`."""
    servers = "\n".join(f"  server replica{n} {address} check" for n, address in enumerate(replicas, 1))
    return f"""global
  maxconn 512
  # a request is taken again only if it fits in one buffer (a live client sends each lap alone,
  # as it starts; tests/test_replicas.py checks its batches fit)
  tune.bufsize {BUFFER_BYTES}

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # a request its replica could not answer goes to another (predictions have no side effect a
  # second answer would repeat: the prediction log keeps the latest answer per lap)
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout 502 503 504
  option http-buffer-request

frontend service
  bind 127.0.0.1:{port}
  monitor-uri {HEALTH_PATH}
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2
{servers}
"""


class Balancer(LocalService):
    """`with Balancer(["127.0.0.1:3001", ...]) as balancer:` HAProxy on a free port (its `url`)."""

    health_path = HEALTH_PATH
    private_bentoml_home = False

    def __init__(self, replicas: list[str], log_path: Path | None = None, port: int | None = None):
        super().__init__(log_path=log_path, start_timeout=30, port=port)
        self._folder = Path(tempfile.mkdtemp(prefix="f1-balancer-"))
        self.config_path = self._folder / "haproxy.cfg"
        self.config_path.write_text(config(self.port, replicas))

    def command(self) -> list[str]:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        return [haproxy, "-db", "-f", str(self.config_path)]  # -db: in the foreground

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
