"""Who worked the pages of a sync, from its Temporal history: each worker's identity
(region, host and pid, contactsync_worker.main.worker_identity), the page activities it
completed and the pages they read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from contactsync_api.workflows import PageResult
from contactsync_worker.workflows import SYNC_PAGE


@dataclass
class PageWork:
    activities: Counter[str] = field(default_factory=Counter)  # identity -> completed
    pages: Counter[str] = field(default_factory=Counter)  # identity -> pages they read
    retried: int = 0  # page activities that needed more than one attempt
    failed: int = 0  # attempts that failed or timed out for good
    most_scheduled: int = 0  # page activities scheduled and not yet closed, at most
    events: int = 0


async def page_work(client: Client, handle: WorkflowHandle[Any, Any]) -> PageWork:
    """``client``: one with the region's keys, which the page results are sealed with."""
    history = await handle.fetch_history()
    converter = client.data_converter
    work = PageWork(events=len(history.events))
    pages: set[int] = set()  # scheduled event ids of page activities
    scheduled_now = 0
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == SYNC_PAGE:
                pages.add(event.event_id)
                scheduled_now += 1
                work.most_scheduled = max(work.most_scheduled, scheduled_now)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in pages and started.attempt > 1:
                work.retried += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed = event.activity_task_completed_event_attributes
            if completed.scheduled_event_id in pages:
                scheduled_now -= 1
                (result,) = await converter.decode(completed.result.payloads, [PageResult])
                work.activities[completed.identity] += 1
                work.pages[completed.identity] += result.summary.pages
        elif kind in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ):
            closed = (
                event.activity_task_failed_event_attributes
                if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                else event.activity_task_timed_out_event_attributes
            )
            if closed.scheduled_event_id in pages:
                scheduled_now -= 1
                work.failed += 1
    return work
