"""archive.jobs.export without Flask: start a build, read its row, find its zip; and the role
rules in archive.core.permissions."""
from __future__ import annotations

import threading

import pytest

from archive.core.errors import NotFound
from tests import filefactory


def _wait(job_id):
    for t in threading.enumerate():
        if t.name == f"export-{job_id}":
            t.join(60)


def test_export_job_runs_without_the_web(instance, tmp_path):
    from archive.evidence.ingest import IngestRequest, ingest_files
    from archive.jobs import export as jobs

    pdf = filefactory.make_pdf(tmp_path / "制度.pdf", ["学习制度"])
    ingest_files(instance, [IngestRequest(path=pdf, codes=["Ⅲ—1"], material_type="规范文件",
                                          date="2026-03-05")], user="t")
    job_id = jobs.start_job(instance, "2026-07-15", {"strict": False, "bogus": True}, "reviewer", "10.0.0.1")
    _wait(job_id)
    job = jobs.get_job(instance, job_id)
    assert job["state"] == "done" and job["state_zh"] == "已完成", job
    assert job["options"] == {"approved_only": False, "include_out_of_window": False, "strict": False}
    path = jobs.package_path(instance, job)
    assert path is not None and path.is_relative_to(instance.exports_dir.resolve())
    assert jobs.read_manifest(path)["files_total"] == 1
    assert [j["id"] for j in jobs.list_jobs(instance)] == [job_id]
    with pytest.raises(NotFound):
        jobs.get_job(instance, job_id + 1)


def test_permissions_table():
    from archive.core.permissions import can_edit_unit, sees_audit

    assert can_edit_unit("clerk", "草场街街道", "草场街街道")
    assert not can_edit_unit("clerk", "草场街街道", "市教育局")
    assert not can_edit_unit("clerk", None, None)
    assert can_edit_unit("reviewer", None, "市教育局") and can_edit_unit("admin", None, None)
    assert not can_edit_unit("auditor", None, "市教育局")
    assert sees_audit("auditor") and sees_audit("admin") and not sees_audit("reviewer")


def test_a_build_finishing_while_its_status_is_read_never_reads_as_interrupted(instance):
    """The status page reads the job's row, then whether its build is alive: a build that
    commits "done" and ends between the two once read as "interrupted" (and the page stopped)."""
    from archive.core.db import transaction
    from archive.jobs import export as jobs

    with transaction(instance.db):
        job_id = instance.db.execute(
            "INSERT INTO export_jobs (created_at, evaluation_date, options, state) "
            "VALUES ('t', '2026-07-15', '{}', 'running')").lastrowid
    key = jobs._key(instance.root, job_id)
    jobs._active.add(key)
    real = instance.db.execute

    def finishing_meanwhile(sql, params=None):
        cur = real(sql, params) if params is not None else real(sql)
        if "FROM export_jobs" in sql:
            rows = cur.fetchall()   # the row as it was read: running; then the build ends
            with transaction(instance.db):
                real("UPDATE export_jobs SET state = 'done' WHERE id = ?", [job_id])
            jobs._active.discard(key)
            return _Read(rows)
        return cur

    class _Read:
        def __init__(self, rows):
            self.rows = rows

        def fetchone(self):
            return self.rows[0] if self.rows else None

        def fetchall(self):
            return self.rows

    instance.db.execute = finishing_meanwhile
    try:
        assert jobs.get_job(instance, job_id)["state"] == "running"
        jobs._active.add(key)
        with transaction(instance.db):
            real("UPDATE export_jobs SET state = 'running' WHERE id = ?", [job_id])
        assert [j["state"] for j in jobs.list_jobs(instance)] == ["running"]
    finally:
        del instance.db.execute
        jobs._active.discard(key)
    assert jobs.get_job(instance, job_id)["state"] == "done"
