"""The background job: registered only when GATEWAY_RENEWAL_REMINDERS_ENABLED is on,
at GATEWAY_RENEWAL_INTERVAL_SECONDS, and one round of it queues today's reminders."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core import jobs
from gateway.core.models import OutboundMail
from gateway.core.models.base import utcnow
from gateway.core.settings import Settings
from tests import factories
from tests.conftest import make_app
from tests.world import World


def test_the_job_runs_only_when_enabled_and_a_round_queues_todays_reminders(
    settings: Settings, dbs: Session, world: World
) -> None:
    disabled = make_app(settings)
    database.engine_of(disabled).dispose()
    assert "renewal-reminders" not in [job.name for job in jobs.registered(disabled)]
    enabled = settings.model_copy(
        update={"renewal_reminders_enabled": True, "renewal_interval_seconds": 600}
    )
    app = make_app(enabled)
    try:
        [job] = [job for job in jobs.registered(app) if job.name == "renewal-reminders"]
        assert job.interval == 600
        today = utcnow().date()
        factories.entitlement(
            dbs, world.ready, world.net, [world.legacy], end_date=today + timedelta(days=30)
        )

        job.work()
        job.work()  # a second round the same day: nothing more

        dbs.expire_all()
        assert dbs.scalars(select(OutboundMail.recipient)).all() == ["ada@ready.example"]
    finally:
        jobs.stop(app)
        database.engine_of(app).dispose()
