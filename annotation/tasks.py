from huey.contrib.djhuey import db_task

from annotation import imports


@db_task()
def run_import_task(job_id: int) -> None:
    imports.run_import(job_id)
