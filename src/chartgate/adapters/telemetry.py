"""OpenTelemetry traces: off unless an exporter is configured; one trace from scribe to chart.

With ``tracing_exporter = "none"`` (the default) nothing is instrumented and no span is
made. With an exporter, the FastAPI app, every httpx client and the store's engine are
instrumented, and the W3C ``traceparent`` a scribe sends with its submission is carried:

1. the submit request's span context is stored on the draft row (``drafts.traceparent``);
2. the approval copies it onto the outbox row (``writebacks.traceparent``), so the
   write-back continues the scribe's trace even though a clinician approved it later;
3. the worker's EHR calls run under a span whose parent is that stored context, and the
   httpx instrumentation sends it to the EHR as the ``traceparent`` header.

Spans carry ids, resource types and statuses only (no note text, no patient reference):
the httpx spans record the URL, which names FHIR ids; so the exporter is an operator's
system inside the same trust boundary as the EHR (docs/ops/tracing.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import Engine, desc, or_, select

from chartgate.adapters.ehr.directory import DEFAULT_CONNECTIONS, ConfiguredEhrDirectory
from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.ehr.rate import RateBuckets
from chartgate.adapters.storage import tables as t
from chartgate.adapters.trace_context import context_of
from chartgate.domain.errors import TracingConfigError

if TYPE_CHECKING:
    from chartgate.service.ports import EhrAnswer, EhrGateway, JsonObject, SearchParams
    from chartgate.settings import Settings

_LOOKUP_CACHE = 1024
SERVICE_NAME = "chartgate"


@dataclass
class Tracing:
    """This process's tracing: a provider when enabled, and how to undo instrumentation."""

    provider: TracerProvider | None = None
    _undo: list[Callable[[], None]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        """True when spans are recorded and exported."""
        return self.provider is not None

    def tracer(self) -> Tracer:
        """Chartgate's own tracer (only when enabled)."""
        assert self.provider is not None
        return self.provider.get_tracer("chartgate")

    def instrument_engine(self, engine: Engine) -> None:
        """Spans for the store's queries (statement text without parameters)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.sqlalchemy import (  # noqa: PLC0415
            SQLAlchemyInstrumentor,
        )

        instrumentor = SQLAlchemyInstrumentor()
        # The package declares sqlalchemy < 2.1; its engine events are unchanged in 2.1.
        instrumentor.instrument(engine=engine, tracer_provider=self.provider, skip_dep_check=True)
        self._undo.append(instrumentor.uninstrument)

    def instrument_app(self, app: Any) -> None:  # noqa: ANN401 - a FastAPI app
        """Server spans for the API; extracts the caller's ``traceparent``."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, excluded_urls="healthz,readyz,metrics"
        )

    def shutdown(self) -> None:
        """Undo instrumentation and flush the exporter."""
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        if self.provider is not None:
            self.provider.shutdown()


def configure_tracing(settings: Settings, *, exporter: SpanExporter | None = None) -> Tracing:
    """Tracing per ``settings`` (``exporter`` overrides it, e.g. an in-memory one in tests)."""
    if exporter is None:
        exporter = _exporter(settings)
    if exporter is None:
        return Tracing()
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)),
    )
    is_batch = settings.tracing_exporter == "otlp"
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if is_batch else SimpleSpanProcessor(exporter)
    )
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor  # noqa: PLC0415

    tracing = Tracing(provider)
    httpx_instrumentor = HTTPXClientInstrumentor()
    httpx_instrumentor.instrument(tracer_provider=provider)
    tracing._undo.append(httpx_instrumentor.uninstrument)  # noqa: SLF001 - built here
    return tracing


def _exporter(settings: Settings) -> SpanExporter | None:
    if settings.tracing_exporter == "none":
        return None
    if settings.tracing_exporter == "console":
        return ConsoleSpanExporter()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
    except ImportError:
        raise TracingConfigError(
            "tracing_exporter = 'otlp' needs the OTLP exporter: pip install 'chartgate[otlp]'"
        ) from None
    exporter: SpanExporter = OTLPSpanExporter(endpoint=settings.tracing_endpoint)
    return exporter


class TraceLookup:
    """The stored ``traceparent`` of a write-back, by its id or its draft's correlation id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._cache: OrderedDict[str, str | None] = OrderedDict()

    def __call__(self, request_id: str) -> Context | None:
        """The context to continue for EHR calls made under ``request_id``."""
        if request_id not in self._cache:
            w = t.writebacks.c
            with self._engine.connect() as conn:
                found = conn.execute(
                    select(w.traceparent)
                    .where(or_(w.correlation_id == request_id, w.id == request_id))
                    .where(w.traceparent.is_not(None))
                    .order_by(desc(w.created_at))
                    .limit(1)
                ).scalar()
            self._cache[request_id] = found
            while len(self._cache) > _LOOKUP_CACHE:
                self._cache.popitem(last=False)
        return context_of(self._cache[request_id])


class TracedEhrDirectory(ConfiguredEhrDirectory):
    """The configured EHRs, each call a span continuing its write-back's stored trace."""

    def __init__(
        self,
        tenants: Mapping[str, Any],
        *,
        gate: ProcessorGate,
        tracer: Tracer,
        lookup: Callable[[str], Context | None],
        rate_buckets: RateBuckets | None = None,
        max_connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        super().__init__(
            tenants, gate=gate, rate_buckets=rate_buckets, max_connections=max_connections
        )
        self._tracer = tracer
        self._lookup = lookup

    def gateway(self, tenant: str) -> EhrGateway:
        """The tenant's gateway, wrapped in spans."""
        return _TracedGateway(super().gateway(tenant), tenant, self._tracer, self._lookup)


class _TracedGateway:
    """One span per EHR call; the httpx span beneath it carries ``traceparent`` to the EHR."""

    def __init__(
        self,
        inner: EhrGateway,
        tenant: str,
        tracer: Tracer,
        lookup: Callable[[str], Context | None],
    ) -> None:
        self._inner = inner
        self._tenant = tenant
        self._tracer = tracer
        self._lookup = lookup

    def _span(
        self, operation: str, resource_type: str, request_id: str, call: Callable[[], Any]
    ) -> Any:  # noqa: ANN401 - the wrapped call's own result
        with self._tracer.start_as_current_span(
            f"ehr {operation} {resource_type}",
            context=self._lookup(request_id),
            kind=SpanKind.INTERNAL,
            attributes={
                "chartgate.tenant": self._tenant,
                "chartgate.correlation_id": request_id,
                "fhir.resource_type": resource_type,
                "fhir.interaction": operation,
            },
        ) as span:
            result = call()
            status = getattr(result, "status", None)
            if isinstance(status, int):
                span.set_attribute("http.response.status_code", status)
            return result

    def create(
        self, resource: JsonObject, *, if_none_exist: str | None, request_id: str
    ) -> EhrAnswer:
        """POST, traced."""
        kind = str(resource.get("resourceType"))
        answer: EhrAnswer = self._span(
            "create",
            kind,
            request_id,
            lambda: self._inner.create(
                resource, if_none_exist=if_none_exist, request_id=request_id
            ),
        )
        return answer

    def update(self, resource: JsonObject, *, if_match: str, request_id: str) -> EhrAnswer:
        """PUT with If-Match, traced."""
        kind = str(resource.get("resourceType"))
        answer: EhrAnswer = self._span(
            "update",
            kind,
            request_id,
            lambda: self._inner.update(resource, if_match=if_match, request_id=request_id),
        )
        return answer

    def create_with_id(self, resource: JsonObject, *, request_id: str) -> EhrAnswer:
        """PUT to a chosen id, traced."""
        kind = str(resource.get("resourceType"))
        answer: EhrAnswer = self._span(
            "create_with_id",
            kind,
            request_id,
            lambda: self._inner.create_with_id(resource, request_id=request_id),
        )
        return answer

    def with_provenance(self, provenance: JsonObject) -> EhrGateway:
        """Writes that carry ``X-Provenance``, still traced."""
        inner = self._inner.with_provenance(provenance)
        return _TracedGateway(inner, self._tenant, self._tracer, self._lookup)

    def transaction(self, bundle: JsonObject, *, request_id: str) -> EhrAnswer:
        """A transaction Bundle, traced."""
        answer: EhrAnswer = self._span(
            "transaction",
            "Bundle",
            request_id,
            lambda: self._inner.transaction(bundle, request_id=request_id),
        )
        return answer

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        """GET, traced."""
        answer: EhrAnswer = self._span(
            "read",
            resource_type,
            request_id,
            lambda: self._inner.read(resource_type, resource_id, request_id=request_id),
        )
        return answer

    def vread(
        self, resource_type: str, resource_id: str, version_id: str, *, request_id: str
    ) -> EhrAnswer:
        """GET one version, traced."""
        answer: EhrAnswer = self._span(
            "vread",
            resource_type,
            request_id,
            lambda: self._inner.vread(
                resource_type, resource_id, version_id, request_id=request_id
            ),
        )
        return answer

    def search(
        self, resource_type: str, params: SearchParams, *, request_id: str
    ) -> list[JsonObject]:
        """Search, traced."""
        found: list[JsonObject] = self._span(
            "search",
            resource_type,
            request_id,
            lambda: self._inner.search(resource_type, params, request_id=request_id),
        )
        return found

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - anything else the gateway has
        return getattr(self._inner, name)
