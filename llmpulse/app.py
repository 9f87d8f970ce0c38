"""The llmpulse service object: built from explicit Settings, asked for its web apps.

Embedded mode runs everything in one process (chDB allows one engine per process and data
directory); server mode runs the collector and the UI as separate processes against a
ClickHouse server and PostgreSQL, each built from this same object.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from flask import Flask
from waitress.server import create_server

from collector.app import create_collector_app
from collector.auth import KeyAuth
from collector.ingest_stats import IngestReporter, IngestStats
from collector.pipeline import IngestPipeline, PriceBookSource
from collector.spool import Spool
from collector.writer import BatchWriter
from dashboard.api import LoginSettings, create_ui_app
from dashboard.guard_cache import GuardCache
from dashboard.prometheus.endpoint import PrometheusSettings
from dashboard.throttle import LoginThrottle
from detectors.alerts.detector import AlertsDetector, AlertSettings
from detectors.alerts.service import Alerting, waiting_slots
from detectors.base import Detector
from detectors.cohort_rollup import CohortRollupDetector
from detectors.drift import DriftDetector
from detectors.hallucination import HallucinationDetector
from detectors.metrics import MetricsDetector
from detectors.notify.dispatcher import Dispatcher
from detectors.retention import RetentionDetector
from detectors.runner import DetectorRunner
from detectors.scheduler import DetectorScheduler
from detectors.scoring.judge import JudgeConfig
from detectors.shadow_judge import ShadowJudgeDetector, ShadowJudgeSettings
from detectors.shadow_pairs import ShadowPairsDetector
from detectors.slo.detector import SloDetector
from evals.regression import RegressionJob
from evals.regression_gate import RegressionGate
from evals.service import ExperimentService, ServiceSettings, TargetKeys
from llmpulse import memory
from llmpulse.config import Settings, is_target_key_name, read_target_key
from llmpulse.hosts import host_policy, otlp_host_policy
from schemas.clickhouse.store import Store, connect
from schemas.metadata import ingest_reports
from schemas.metadata.alert_store import AlertStore
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore
from schemas.metadata.guard_store import GuardStore
from schemas.metadata.ingest_reports import IngestReports
from schemas.metadata.login_failures import LoginFailures
from schemas.metadata.secrets import SecretBox, load_or_create_key
from schemas.metadata.store import Metadata, create_metadata_engine

log = logging.getLogger(__name__)
# waitress reads 8 KiB per recv() and spools bodies over 512 KiB to a temp file. A 1,000-span
# OTLP body (~1.6 MB) then took ~200 GIL hand-offs against the writer thread plus a disk
# round trip: ack p99 at half load 139 ms, against 25-30 ms with these (bench/bench_ingest.py).
# In memory per request body up to INBUF_OVERFLOW; beyond it waitress still uses a temp file.
RECV_BYTES = 256 * 1024
INBUF_OVERFLOW = 2 * 2**20
# Detectors whose intervals coincide start within a second of each other; the memory hand-back
# waits until none has run for this long, so a tick pays for it once, not once a detector.
DETECTOR_IDLE_SECONDS = 5.0
# How often a collector writes its counters for /metrics, which may be served by another process.
INGEST_REPORT_SECONDS = 5.0


def judge_config(s: Settings) -> JudgeConfig | None:
    return JudgeConfig(s.judge_url, s.judge_model, s.judge_api_key) if s.judge_url else None


def build_detectors(settings: Settings, alerts: AlertStore, dispatcher: Dispatcher,
                    experiments: ExperimentService | None = None) -> list[Detector]:
    """The detectors llmpulse runs, in the order a full pass runs them (fresh metrics before alerts;
    the regression job right after drift, so a change found starts its run in the same pass)."""
    alert_settings = AlertSettings(settings.resolved_public_url, timedelta(seconds=settings.renotify_seconds))
    judge = judge_config(settings)
    gate = RegressionGate(alerts, dispatcher, settings.resolved_public_url)
    regression = [RegressionJob(settings.regression_interval, experiments, gate)] if experiments else []
    return [
        MetricsDetector(settings.metrics_interval),
        ShadowPairsDetector(settings.metrics_interval),  # the shadow report's pairs, as fresh as the rollups
        CohortRollupDetector(settings.metrics_interval),  # A/B cohorts by declared keys, as fresh too
        HallucinationDetector(settings.hallucination_interval, judge),
        ShadowJudgeDetector(settings.shadow_judge_interval, judge, ShadowJudgeSettings(settings.shadow_judge_per_run)),
        DriftDetector(settings.drift_interval),
        *regression,
        AlertsDetector(settings.alerts_interval, alerts, dispatcher, alert_settings),
        SloDetector(settings.slos_interval, alerts, dispatcher, alert_settings),
        RetentionDetector(settings.retention_interval),
    ]


@dataclass
class Llmpulse:
    settings: Settings
    _servers: list = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @cached_property
    def store(self) -> Store:
        s = self.settings
        client = connect(s.resolved_clickhouse_dsn, s.chdb_cache_mb, s.chdb_malloc_conf)
        return Store(client, s.clickhouse_database, embedded=s.embedded)

    @cached_property
    def metadata(self) -> Metadata:
        return Metadata(create_metadata_engine(self.settings.resolved_metadata_url))

    def migrate(self) -> list[str]:
        self.prepare_metadata()
        return self.store.migrate()

    def prepare_metadata(self) -> Metadata:
        """The data directory and the metadata tables, as `serve` makes them: what every command that
        only needs the metadata DB (users, keys, prices, rules) runs first, on a fresh directory too."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.metadata.migrate()
        return self.metadata

    def ready(self) -> bool:
        return self.store.ping()

    def ingest_health(self) -> dict[str, Any]:
        """What /readyz adds where this process writes spans: rows in the dead-letter file."""
        return {"dead_lettered": self.writer.stats.dead_lettered} if "writer" in self.__dict__ else {}

    @property
    def collector_name(self) -> str:
        """This collector in /metrics (`collector` label) and its report row: host and OTLP port."""
        return f"{socket.gethostname()}:{self.settings.otlp_port}"

    @cached_property
    def ingest_stats(self) -> IngestStats:
        """This collector's counters, going on from its last report (a restart does not reset them)."""
        return IngestStats(IngestReports(self.metadata).load(self.collector_name))

    @cached_property
    def ingest_reporter(self) -> IngestReporter:
        reports = IngestReports(self.metadata)
        return IngestReporter(self.ingest_stats, self.ingest_gauges,
                              lambda report: reports.save(self.collector_name, report), INGEST_REPORT_SECONDS)

    def ingest_gauges(self) -> dict[str, float]:
        """What is true of ingest now, for its report: queue, spool, dead letter, unbuilt requests."""
        return {ingest_reports.QUEUE_ROWS: self.writer.pending_rows(),
                ingest_reports.SPOOL_BYTES: self.spool.size_bytes(),
                ingest_reports.SPOOL_RECORDS: self.spool.pending(),
                ingest_reports.DEAD_LETTER_ROWS: self.writer.stats.dead_lettered,
                ingest_reports.UNBUILT_REQUESTS: self.writer.stats.unmade}

    def live_ingest(self) -> tuple[str, dict[str, Any]] | None:
        """This process's collector report, made now, when it runs one (embedded mode): a scrape of
        the UI in the same process reads it instead of the last saved one."""
        return (self.collector_name, self.ingest_reporter.report()) if "ingest_reporter" in self.__dict__ else None

    @cached_property
    def spool(self) -> Spool:
        return Spool(self.settings.spool_dir, fsync=self.settings.spool_fsync)

    @cached_property
    def writer(self) -> BatchWriter:
        s = self.settings
        return BatchWriter(
            self.store.insert_columns, self.spool.release, batch_rows=s.batch_rows,
            flush_seconds=s.flush_seconds, max_rows=s.queue_max_rows,
            dead_letter=s.data_dir / "dead-letter.jsonl", after_batch=self.release_memory,
            counts=self.ingest_stats,
        )

    def release_memory(self) -> None:
        """What a written batch freed goes back to the OS: chDB's jemalloc, then glibc's arenas."""
        self.store.release_memory()
        memory.release_heap()

    def release_detector_memory(self) -> None:
        """Once the detectors are idle, also the library pages their queries faulted in (chDB's
        aggregate functions, ~25-45 MB measured) go back, as after start-up: a tick comes once a
        minute at most, and what ingest keeps using faults back in from the page cache."""
        self.release_memory()
        memory.page_out_files()

    @cached_property
    def pipeline(self) -> IngestPipeline:
        return IngestPipeline(
            self.spool, self.writer, PriceBookSource(self.metadata.list_price_overrides,
                                                load_prefer_reported=self.metadata.projects_preferring_reported),
            max_body_bytes=self.settings.max_body_bytes, max_value_chars=self.settings.max_value_chars,
            max_tokens_per_call=self.settings.max_tokens_per_call,
        )

    def start_ingest(self) -> int:
        """Start the writer and replay what the last process acknowledged; returns replayed rows."""
        memory.tune_malloc()
        memory.use_system_arrow_pool()
        # The writer normalizes in long CPU runs; a 5 ms GIL switch interval would make each request
        # thread wait that long at every I/O step (a convoy). 0.5 ms keeps acks short.
        sys.setswitchinterval(0.0005)
        self.writer.start()
        self.ingest_reporter.start()
        replayed = self.pipeline.replay_spool()
        if replayed:
            log.info("replayed %d rows from the spool", replayed)
        return replayed

    def collector_app(self) -> Flask:
        auth = KeyAuth(self.metadata.identify_key, require_key=self.settings.require_key)
        s = self.settings
        return create_collector_app(self.pipeline, auth, self.ready, s.max_body_bytes, s.ingest_concurrency,
                                    otlp_host_policy(s), self.ingest_health, self.ingest_stats)

    def ui_app(self) -> Flask:
        engine = self.detector_runner.detectors.get("alerts")
        renotify = timedelta(seconds=self.settings.renotify_seconds)
        s = self.settings
        alerting = Alerting(self.alert_store, self.dispatcher, engine, renotify,  # type: ignore[arg-type]
                            waiting_slots(s.threads))
        throttle = LoginThrottle(LoginFailures(self.metadata), s.login_free_failures, s.login_base_delay_seconds)
        login = LoginSettings(self.secret_key, required=s.require_key, hosts=host_policy(s), throttle=throttle)
        prometheus = PrometheusSettings(s.prometheus_top_n, self.live_ingest)
        return create_ui_app(self.store, self.metadata, self.ready, self.detector_runner, alerting, login,
                             self.otlp_port, self.ingest_health, self.experiments, prometheus, self.guard_cache)

    @cached_property
    def guard_cache(self) -> GuardCache:
        """The guard states the status endpoint answers from, refreshed by its own thread (started
        with the UI): the detectors write them on their tick, here or in another process."""
        return GuardCache(GuardStore(self.metadata), self.settings.guard_refresh_seconds)

    @property
    def otlp_port(self) -> int:
        """The bound OTLP port when this process serves it (configured as 0 in tests), else the setting."""
        return self.port("otlp") if any(n == "otlp" for n, _ in self._servers) else self.settings.otlp_port

    @cached_property
    def experiments(self) -> ExperimentService:
        """Runs experiments in the UI process (their API lives there); spans go through OTLP ingest."""
        s = self.settings
        config = ServiceSettings(
            ingest_url=s.resolved_ingest_url(self.otlp_port), mint_keys=s.require_key,
            max_running=s.experiments_running, default_concurrency=s.experiment_concurrency,
            max_concurrency=s.experiment_max_concurrency, readback_seconds=s.experiment_readback_seconds,
            default_endpoint=s.experiment_endpoint, judge=judge_config(s),
            target_timeout_s=s.experiment_timeout_seconds)
        return ExperimentService(self.store, self.metadata, DatasetStore(self.metadata), ExperimentStore(self.metadata),
                                 SecretBox(self.secret_key), config, TargetKeys(is_target_key_name, read_target_key))

    @cached_property
    def secret_key(self) -> str:
        """Seals channel secrets and signs UI sessions (config, else a key file in the data dir)."""
        return load_or_create_key(self.settings.secret_key, self.settings.data_dir / "secret.key")

    @cached_property
    def alert_store(self) -> AlertStore:
        return AlertStore(self.metadata, SecretBox(self.secret_key))

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.alert_store)

    @cached_property
    def detector_runner(self) -> DetectorRunner:
        return DetectorRunner(build_detectors(self.settings, self.alert_store, self.dispatcher, self.experiments),
                              self.store.background(), self.metadata, after_idle=self.release_detector_memory,
                              idle_delay=DETECTOR_IDLE_SECONDS)

    @cached_property
    def scheduler(self) -> DetectorScheduler:
        return DetectorScheduler(self.detector_runner, self.settings.lease_seconds)

    def serve(self, *, collector: bool = True, ui: bool = True, detectors: bool = True) -> None:
        """Run the requested parts until `stop()`; blocks."""
        threads = self.start(collector=collector, ui=ui, detectors=detectors)
        memory.freeze_startup_objects()
        paged = memory.page_out_files()
        log.debug("paged out %d MB of mapped files (libraries) that start-up touched once", paged >> 20)
        log.info("ready: %s", self._ready_text())
        # Timed waits: a SIGTERM the kernel hands to another thread (an engine's) only sets a flag the
        # main thread must wake to see; an untimed join would leave `llmpulse serve` deaf to it.
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
        while not threads and not self._stopping.wait(0.5):  # detectors only: the scheduler's threads work
            pass

    def _ready_text(self) -> str:
        """What a newcomer wants from the start-up log: where to go now that every part answers."""
        labels = {"ui": "UI and API", "otlp": "OTLP/HTTP ingest"}
        parts = [f"{labels.get(name, name)} on http://{self.settings.host}:{server.effective_port}"
                 for name, server in self._servers]
        return ", ".join(parts) if parts else "detector scheduler running"

    def start(self, *, collector: bool = True, ui: bool = True, detectors: bool = True) -> list[threading.Thread]:
        """Migrate, replay the spool, start the scheduler and the HTTP servers in background threads."""
        self.migrate()
        if collector:
            self.start_ingest()
            self._add_server(self.collector_app(), self.settings.otlp_port, "otlp")
        if ui:
            failed = self.experiments.fail_interrupted()
            if failed:
                log.warning("%d experiment(s) left running by a stopped process marked failed", failed)
            self._add_server(self.ui_app(), self.settings.ui_port, "ui")
            self.guard_cache.start()
        if detectors and self.settings.detectors:
            self.scheduler.start()
        threads = [threading.Thread(target=self._run_server, args=(srv,), name=f"llmpulse-{name}", daemon=True)
                   for name, srv in self._servers]
        for thread in threads:
            thread.start()
        return threads

    def port(self, name: str) -> int:
        """The bound port of server `name` ("otlp" or "ui"); useful when configured as 0."""
        return int(next(srv.effective_port for n, srv in self._servers if n == name))

    def _add_server(self, app: Flask, port: int, name: str) -> None:
        s = self.settings
        server = create_server(
            app, host=s.host, port=port, threads=s.threads, ident="llmpulse",
            max_request_body_size=s.max_body_bytes + 1, channel_timeout=30, clear_untrusted_proxy_headers=True,
            recv_bytes=RECV_BYTES, inbuf_overflow=INBUF_OVERFLOW,
        )
        log.info("%s listening on http://%s:%s", name, s.host, server.effective_port)
        self._servers.append((name, server))

    def _run_server(self, server: Any) -> None:
        try:
            server.run()
        except OSError:
            if not self._stopping.is_set():  # closing the socket under select() is how waitress stops
                raise

    def stop(self) -> None:
        """Stop accepting, then write every acknowledged row before returning."""
        self._stopping.set()
        if "scheduler" in self.__dict__:
            self.scheduler.stop()
        if "detector_runner" in self.__dict__:
            self.detector_runner.idle.cancel()
        if "dispatcher" in self.__dict__:
            self.dispatcher.close()
        if "guard_cache" in self.__dict__:
            self.guard_cache.stop()
        if "experiments" in self.__dict__:
            self.experiments.close()
        for _, server in self._servers:
            server.close()
            server.task_dispatcher.shutdown()
        if "writer" in self.__dict__:
            self.writer.stop()
            self.spool.close()
        if "ingest_reporter" in self.__dict__:
            self.ingest_reporter.stop()  # after the writer: the last rows written are in the report
