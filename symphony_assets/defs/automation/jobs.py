"""The conductor on Dagster: each script in a codebase's ``automation.yaml`` becomes a job with its
schedule, retry policy, timeout (``dagster/max_runtime`` plus the script's own kill) and concurrency pool
(one per codebase; ``settings.max_concurrent_tasks`` is its limit, applied by ``automation_settings`` in
``sensors.py``); ``after`` becomes a run status sensor that starts the script after each success of its
upstream. Failures reach ``SYMPHONY_WEBHOOK_URL`` through ``run_failure_webhook`` like every other run,
and the registry's own ``settings.notification_webhook`` through ``automation_failure_webhook``.

Built from symphony.yaml and the registries when the code location loads (reload it after registering).
"""

import logging
from dataclasses import dataclass, field

import dagster as dg

from symphony_assets.analysis.automation import AutomationTask, job_name, pool_name
from symphony_assets.config import Codebase, ConfigError, load_config
from symphony_assets.resources.automation import load_registry, run_script

log = logging.getLogger(__name__)

#: Marks every run of a registered script with its codebase (the limit itself is the codebase's pool).
AUTOMATION_TAG = "symphony/automation"
CODEBASE_TAG = "symphony/automation_codebase"
TASK_TAG = "symphony/automation_task"
#: Seconds the run monitor allows beyond the script's own timeout (start-up, retries' delays).
RUNTIME_SLACK_S = 300


@dataclass
class AutomationDefs:
    jobs: list[dg.JobDefinition] = field(default_factory=list)
    schedules: list[dg.ScheduleDefinition] = field(default_factory=list)
    sensors: list[dg.SensorDefinition] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)


def script_job(codebase: Codebase, task: AutomationTask) -> dg.JobDefinition:
    name = job_name(codebase.name, task.name)
    retry = dg.RetryPolicy(max_retries=task.retries, delay=task.retry_delay_s) if task.retries else None

    @dg.op(name=f"{name}_run", retry_policy=retry, tags={TASK_TAG: task.name}, pool=pool_name(codebase.name))
    def run(context: dg.OpExecutionContext) -> None:
        context.log.info(f"{' '.join(task.command)} in {codebase.path} (timeout {task.timeout_s}s)")
        result = run_script(task, codebase.path, context.log.info)
        if result.timed_out:
            raise dg.Failure(description=f"{task.name}: timed out after {task.timeout_s}s and was stopped")
        if result.returncode != 0:
            raise dg.Failure(description=f"{task.name}: exited with status {result.returncode}")
        context.log.info(f"{task.name}: done in {result.duration_s:.1f}s, {result.lines} output lines")

    runtime = task.timeout_s * (task.retries + 1) + task.retry_delay_s * task.retries + RUNTIME_SLACK_S
    tags = {
        AUTOMATION_TAG: codebase.name,
        CODEBASE_TAG: codebase.name,
        TASK_TAG: task.name,
        "dagster/max_runtime": str(runtime),
    }

    # In process, whatever SYMPHONY_EXECUTOR says: the script must run on the machine that holds the
    # codebase (a Celery worker elsewhere has no such directory), and one op gains nothing from a subprocess.
    @dg.job(
        name=name,
        tags=tags,
        description=f"{codebase.name}: {' '.join(task.command)}",
        executor_def=dg.in_process_executor,
    )
    def job() -> None:
        run()

    return job


def after_sensor(
    codebase: Codebase, task: AutomationTask, job: dg.JobDefinition, upstream: dict[str, dg.JobDefinition]
) -> dg.SensorDefinition:
    """Start ``job`` after each success of an upstream job, once every upstream's last run succeeded."""

    @dg.run_status_sensor(
        name=f"{job.name}_after",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=list(upstream.values()),
        request_job=job,
        default_status=dg.DefaultSensorStatus.RUNNING if task.enabled else dg.DefaultSensorStatus.STOPPED,
        description=f"Runs {task.name} after {', '.join(task.after)} succeed.",
    )
    def after(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        for name, up in upstream.items():
            if up.name == context.dagster_run.job_name:
                continue
            last = context.instance.get_runs(filters=dg.RunsFilter(job_name=up.name), limit=1)
            if not last or last[0].status != dg.DagsterRunStatus.SUCCESS:
                return dg.SkipReason(f"{name} has not succeeded last time; {task.name} waits for it")
        return dg.RunRequest(run_key=f"after|{context.dagster_run.run_id}")

    return after


def build_automation(codebases: list[Codebase]) -> AutomationDefs:
    out = AutomationDefs()
    for codebase in codebases:
        if not codebase.path.is_dir():
            continue
        registry = load_registry(codebase)
        if registry.errors:
            out.errors[codebase.name] = registry.errors
            log.warning("automation registry of %s: %s", codebase.name, "; ".join(registry.errors))
        bad = {t.name for t in registry.tasks if any(e.startswith(f"{t.name}:") for e in registry.errors)}
        if any(e.startswith("dependency loop") for e in registry.errors):
            bad |= {t.name for t in registry.tasks if t.after}
        jobs: dict[str, dg.JobDefinition] = {}
        for task in registry.tasks:
            if task.name in bad:
                continue
            jobs[task.name] = script_job(codebase, task)
            if task.schedule:
                status = (
                    dg.DefaultScheduleStatus.RUNNING if task.enabled else dg.DefaultScheduleStatus.STOPPED
                )
                out.schedules.append(
                    dg.ScheduleDefinition(
                        name=f"{jobs[task.name].name}_schedule",
                        job=jobs[task.name],
                        cron_schedule=task.schedule,
                        execution_timezone="UTC",
                        default_status=status,
                    )
                )
        for task in registry.tasks:
            if task.name in jobs and task.after:
                upstream = {a: jobs[a] for a in task.after if a in jobs}
                if len(upstream) == len(task.after):
                    out.sensors.append(after_sensor(codebase, task, jobs[task.name], upstream))
        out.jobs += jobs.values()
    return out


def _from_config() -> AutomationDefs:
    try:
        return build_automation(list(load_config().codebases))
    except ConfigError as exc:
        log.warning("automation jobs not built: %s", exc)
        return AutomationDefs()


_BUILT = _from_config()
automation_jobs: list[dg.JobDefinition] = _BUILT.jobs
automation_schedules: list[dg.ScheduleDefinition] = _BUILT.schedules
automation_sensors: list[dg.SensorDefinition] = _BUILT.sensors
