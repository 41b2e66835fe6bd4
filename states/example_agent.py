"""An agent-style task: it announces a plan, reports each step as a custom event
(the way a browser agent sends overlays, or a coding agent its plan), stores a
screenshot-like artifact, and takes steering messages while it runs."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class AgentArgs(BaseModel):
    goal: str = Field(default="search the wiki for SpyGlass", max_length=500)
    steps: int = Field(default=4, ge=1, le=20, description="how many steps the plan has")
    step_seconds: float = Field(default=0.5, ge=0, le=10)


DEFAULT_AGENT_ARGS = AgentArgs()


class ExampleAgentState(MonitorState):
    @staticmethod
    @monitored_background_task(timeout=600)
    async def plan_and_act(task: TaskContext, task_args: AgentArgs = DEFAULT_AGENT_ARGS) -> dict[str, object]:
        """Plans, then acts step by step; each step is a custom `step` event with an overlay box."""
        plan = [f"step {i + 1} of: {task_args.goal}" for i in range(task_args.steps)]
        await task.emit("plan", {"goal": task_args.goal, "steps": plan})
        done = []
        for i, step in enumerate(plan):
            steering = await task.receive(timeout=0)  # a message may skip a step
            if isinstance(steering, dict) and steering.get("action") == "skip":
                await task.log(f"skipped {step} (asked to)", "warning")
                continue
            await task.update(progress=100 * i / len(plan), status=TaskStatus.PROCESSING, message=step)
            await task.emit(
                "step", {"index": i, "title": step, "overlay": {"type": "highlight", "bbox": [40 * i, 40, 200, 80]}}
            )
            await asyncio.sleep(task_args.step_seconds)
            done.append(step)
        await task.artifact("screenshot.svg", _screenshot(task_args.goal, len(done)), mime="image/svg+xml")
        return {"goal": task_args.goal, "steps_done": len(done), "steps_planned": len(plan)}


def _screenshot(goal: str, steps: int) -> str:
    from html import escape

    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="80">'
        f'<text x="10" y="30">{escape(goal[:40])}</text><text x="10" y="60">{steps} step(s) done</text></svg>'
    )
