"""No log line (of ours at any level, extra fields included; of the libraries at the level the
services log them) and no metric label carries a recipient or a message body, through the whole life of jobs: created, retried, failed, sent, webhooks tried and
failed, a bounce and a suppression, an erasure and an export."""

import io
import logging

from pythonjsonlogger.json import JsonFormatter

from shared import lifecycle
from tests.conftest import register_webhook, wait_for
from tests.receiver import receiver

PEOPLE = {"sms": "+2348031234567", "email": "ngozi.okafor@bounce.example.com", "push": "device-token-4f9a1c77e2"}
BODY = "Your code is 904512"


def test_logs_and_metrics_name_no_recipient_and_no_message(deps, api, worker, start_hooks):
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root, ours, driver = logging.getLogger(), logging.getLogger("wavecom"), logging.getLogger("pymongo")
    levels = root.level, ours.level, driver.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as the services log (shared.logs), and every line of our own
    ours.setLevel(logging.DEBUG)
    driver.setLevel(logging.WARNING)  # as shared.logs.configure leaves it
    try:
        start_hooks(deps)
        with receiver(statuses=[500]) as hook:
            register_webhook(api, hook.url)
            ids = []
            for channel, recipient in PEOPLE.items():
                for metadata in ({}, {"mockFailures": 1}):
                    answer = api.post("/api/notifications", json={"type": channel, "recipient": recipient,
                                                                  "message": BODY, "metadata": metadata})
                    assert answer.status_code == 201
                    ids.append(answer.json()["id"])
            rejected = api.post("/api/notifications", json={"type": "sms", "recipient": "+2348030000000",
                                                            "message": BODY}).json()["id"]
            bad = api.post("/api/notifications", json={"type": "sms", "recipient": "+23480", "message": BODY})
            assert bad.status_code == 400
            wait_for(lambda: all(deps.jobs.get(i).status.value in ("sent", "failed") for i in [*ids, rejected]),
                     what="every job to end")
            wait_for(lambda: hook.requests, what="a webhook try")
        api.post("/api/suppressions", json={"recipient": PEOPLE["sms"]})
        api.post("/api/erasures", json={"recipient": PEOPLE["sms"]})
        api.get("/api/notifications/export")
        lifecycle.lifecycle_sweep(deps)
        metrics = api.get("/metrics").text
    finally:
        root.removeHandler(handler)
        for logger, was in zip((root, ours, driver), levels, strict=True):
            logger.setLevel(was)
    logged = lines.getvalue()
    assert "job_id" in logged and "***" in logged  # the lines were captured, with masked recipients
    for text in [*PEOPLE.values(), "+2348030000000", "+23480", BODY, "904512"]:
        assert text not in logged, f"a log line names {text!r}"
        assert text not in metrics, f"a metric names {text!r}"
