"""The workflow and activity of bench.temporal_worker_floor, in a module of their own: the
workflow sandbox imports this module again, and it must import nothing but temporalio."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="noop")
async def noop(value: str) -> str:
    return value


async def _one_activity(value: str) -> str:
    result: str = await workflow.execute_activity(
        "noop", value, start_to_close_timeout=timedelta(seconds=30)
    )
    return result


@workflow.defn(name="Floor", sandboxed=False)
class Floor:
    @workflow.run
    async def run(self, value: str) -> str:
        return await _one_activity(value)


@workflow.defn(name="SandboxedFloor")
class SandboxedFloor:
    """The same in Temporal's workflow sandbox, as ContactSync's workflows run."""

    @workflow.run
    async def run(self, value: str) -> str:
        return await _one_activity(value)
