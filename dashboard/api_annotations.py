"""API of the annotation queue (issue #22, "label by hand"): what to label next, and a label.

A label is a viewer's job, as feedback (POST /api/v1/scores) is: the route guard lets viewers
post one (dashboard.auth.VIEWER_CHANGES). Sending the span to a dataset changes a golden set,
which the deploy gate measures, and so needs the admin role like every other dataset change;
a viewer's label that names a dataset is refused whole, before anything is stored. The label
records who gave it: the signed-in user (`local` on an open loopback UI), never a name the body
claims.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.annotations import QUEUE_KINDS, parse_label, queue, save_label
from dashboard.auth import current_role, current_user
from dashboard.params import PROJECT, WINDOW, ApiError, choice_arg, int_arg, json_body, project_arg, takes, time_range
from schemas.clickhouse.store import Store
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.store import Metadata

LOCAL_ANNOTATOR = "local"  # who labelled, on a UI that runs open on loopback (no one is signed in)
QUEUE_SPAN = timedelta(days=30)


def create_annotations_blueprint(store: Store, metadata: Metadata, login_required: bool) -> Blueprint:
    api = Blueprint("annotations_api", __name__, url_prefix="/api/v1")
    datasets = DatasetStore(metadata)

    @api.get("/annotations/queue")
    @takes(PROJECT, WINDOW, ("kind", "limit", "dataset"))
    def annotation_queue() -> Any:
        project = project_arg(metadata)
        kind = choice_arg("kind", QUEUE_KINDS, "sampled") or "sampled"
        entries = queue(store, datasets, project, kind, time_range(QUEUE_SPAN), int_arg("limit", 10, 1, 100),
                        request.args.get("dataset"))
        return jsonify({"project": project, "kind": kind, "items": entries})

    @api.post("/annotations")
    @takes(PROJECT)
    def post_label() -> Any:
        project = project_arg(metadata)
        label, dataset = parse_label(json_body(), annotator())
        if dataset is not None and not may_change_datasets(login_required):
            raise ApiError(403, "sending a span to a dataset needs the admin role; label it without "
                                "\"dataset\", or ask an admin")
        return jsonify(save_label(store, datasets, project, label, dataset)), 201

    return api


def annotator() -> str:
    return current_user() or LOCAL_ANNOTATOR


def may_change_datasets(login_required: bool) -> bool:
    """Admins change datasets; everyone may on an open loopback UI, where there are no roles."""
    return not login_required or current_role() == "admin"
