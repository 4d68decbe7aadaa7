"""Admin pages for scheduled jobs: the job-run history."""
from flask import render_template, request

from .. import jobs
from ..auth import role_required
from ..models.database import utcnow
from . import bp


@bp.get("/jobs")
@role_required("admin")
def job_runs():
    job_id = request.args.get("job", "")
    job_id = job_id if job_id in jobs.SPECS else ""
    last_beat = jobs.latest_heartbeat()
    return render_template(
        "admin/jobs.html",
        runs=jobs.recent_runs(limit=100, job_id=job_id or None),
        job_ids=list(jobs.SPECS),
        job_id=job_id,
        heartbeat_age=None if last_beat is None else int((utcnow() - last_beat).total_seconds()),
    )
