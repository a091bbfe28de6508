"""OpenTelemetry: spans exported over OTLP/HTTP to a real receiver on 127.0.0.1 when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, continuing the caller's ``traceparent``; nothing
installed when it is not."""

from __future__ import annotations

import gzip
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from datastore.store import DocumentStore
from edge.tracing import REQUEST_ID_ATTRIBUTE, install_tracing, tracing_extensions
from gateway import create_app
from schema.api import schema
from tests.conftest import SETTINGS
from tests.servers import running_gateway


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: decodes each export request with opentelemetry-proto."""

    url: str
    spans: list[Span] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def trace(self, trace_id: bytes) -> list[Span]:
        with self.lock:
            return self._of(trace_id)

    def wait_for(
        self, trace_id: bytes, complete: Callable[[list[Span]], bool], seconds: float = 120
    ) -> list[Span]:
        """The spans of ``trace_id`` once they are ``complete`` (woken by each export, which
        may bring a trace's spans in several batches; a generous bound, since a loaded
        machine exports late)."""
        with self.lock:
            self.lock.wait_for(lambda: complete(self._of(trace_id)), seconds)
            return self._of(trace_id)

    def _of(self, trace_id: bytes) -> list[Span]:
        return [span for span in self.spans if span.trace_id == trace_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            export = ExportTraceServiceRequest()
            export.ParseFromString(body)
            with received.lock:
                received.paths.append(self.path)
                for resource_spans in export.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        received.spans.extend(scope_spans.spans)
                received.lock.notify_all()
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def _attributes(span: Span) -> dict[str, str]:
    return {a.key: a.value.string_value for a in span.attributes}


def test_spans_continue_traceparent_and_carry_the_request_id(
    receiver: Receiver, tmp_path: Path
) -> None:
    trace_id = secrets.token_bytes(16)
    parent_id = secrets.token_bytes(8)
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_SERVICE_NAME": "tsp-gateway-test",
    }
    probe_trace_id = secrets.token_bytes(16)
    with running_gateway(tmp_path, env=env) as served:
        probe = httpx.get(
            f"{served.url}/healthz",
            headers={"traceparent": f"00-{probe_trace_id.hex()}-{parent_id.hex()}-01"},
            timeout=60,
        )
        assert probe.status_code == 200
        response = httpx.post(
            f"{served.url}/graphql",
            json={
                "query": "query Traced { viewer { role } serviceCategories(first: 1) "
                "{ edges { node { id } } } }"
            },
            headers={
                "traceparent": f"00-{trace_id.hex()}-{parent_id.hex()}-01",
                "X-Request-ID": "trace-me-1",
            },
            timeout=60,
        )
        assert response.status_code == 200, response.text
        expected = {
            "GraphQL Query: Traced",
            "GraphQL Resolving: viewer",
            "GraphQL Resolving: serviceCategories",
        }
        spans = receiver.wait_for(
            trace_id,
            lambda spans: (
                expected <= {span.name for span in spans}
                and any(span.parent_span_id == parent_id for span in spans)
            ),
        )
    assert set(receiver.paths) == {"/v1/traces"}
    # Health probes are not traced (their span would have been exported first).
    assert receiver.trace(probe_trace_id) == []
    by_name = {span.name: span for span in spans}
    server = next(span for span in spans if span.parent_span_id == parent_id)
    assert server.kind == Span.SPAN_KIND_SERVER
    assert _attributes(server)[REQUEST_ID_ATTRIBUTE] == "trace-me-1"
    operation = by_name["GraphQL Query: Traced"]
    assert operation.parent_span_id == server.span_id
    for field_name in ("viewer", "serviceCategories"):
        resolver = by_name[f"GraphQL Resolving: {field_name}"]
        assert resolver.parent_span_id == operation.span_id
    # Argument values are client input: recorded by name only.
    arguments = _attributes(by_name["GraphQL Resolving: serviceCategories"])
    assert arguments["graphql.param.first"] == "<redacted>"


async def test_nothing_is_installed_without_an_endpoint(
    monkeypatch: pytest.MonkeyPatch, store: DocumentStore
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    from opentelemetry import trace

    assert install_tracing() is None
    assert tracing_extensions() == []
    assert not any("Tracing" in getattr(e, "__name__", "") for e in schema.extensions)
    app = create_app(SETTINGS, store=store)
    assert not any("OpenTelemetry" in m.cls.__name__ for m in app.user_middleware)  # type: ignore[attr-defined]
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
