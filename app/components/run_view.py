"""One task's run view: a header with its state and times, a timeline of its
events, its logs (level colours, a filter, following new lines), arguments,
result or error, artifacts, and the actions, destructive ones confirmed."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog
from app.components.status import (
    local_time,
    notice,
    progress_bar,
    short_task_id,
    status_badge,
    ticking_duration,
    time_zone_note,
)
from states.task_run import LOG_COLORS, ArtifactLink, CustomEvent, LogLine, Mark, TaskRunState

# Esc goes back to the list as it was left (a run view is also a page of its own,
# reachable by URL), unless a dialog is open: then Esc closes the dialog.
ESC_CLOSES = (
    "if (!window.__spyglassEsc) { window.__spyglassEsc = true; document.addEventListener('keydown', (e) => {"
    " if (e.key === 'Escape' && !document.querySelector('[role=alertdialog]')) {"
    " document.getElementById('run-back')?.click(); } }); }"
)


def _fact(label: str, value: rx.Component | rx.Var | str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"), rx.box(value, class_name="fact"), spacing="0", min_width="9em"
    )


def header() -> rx.Component:
    s = TaskRunState
    return rx.vstack(
        rx.flex(
            rx.link(
                rx.hstack(rx.icon("arrow-left", size=14, aria_hidden="true"), "Tasks", align="center"),
                href=s.back_to,
                aria_label="back to the task list (Esc)",
                id="run-back",
            ),
            rx.heading(s.state_name + "." + s.task_name, size="5", id="run-title"),
            status_badge(s.status, s.color),
            rx.cond(
                s.error_code != "", rx.badge(s.error_code, color_scheme="red", variant="outline", id="run-error-code")
            ),
            rx.cond(s.cancel_requested & s.running, rx.badge("cancel requested", color_scheme="orange")),
            wrap="wrap",
            spacing="3",
            align="center",
        ),
        rx.text("task ", rx.code(s.run_id, id="run-id"), size="2"),
        progress_bar(s.progress, "task progress"),
        rx.flex(
            _fact("Client", rx.text(s.client)),
            _fact("Created", local_time(s.created)),
            _fact("Started", local_time(s.started)),
            _fact("Finished", local_time(s.finished)),
            _fact("Duration", ticking_duration(s.duration, s.started)),
            _fact("Attempt", rx.text(s.attempt)),
            rx.cond(
                s.retry_of != "",
                _fact("Re-run of", rx.link(short_task_id(s.retry_of), href="/admins/tasks/" + s.retry_of)),
            ),
            _fact("Worker", rx.code(s.worker[:8])),
            wrap="wrap",
            spacing="4",
        ),
        time_zone_note(),
        rx.cond(s.message != "", rx.text(s.message, size="2", color_scheme="gray", id="run-message")),
        spacing="2",
        width="100%",
    )


def _mark(mark: Mark) -> rx.Component:
    return rx.tooltip(
        rx.box(
            position="absolute",
            left=mark.left.to_string() + "%",
            top="6px",
            width="10px",
            height="10px",
            margin_left="-5px",
            border_radius="50%",
            background=rx.color(mark.color, 9),
            class_name="timeline-mark",
            data_kind=mark.kind,
            tab_index=0,
            aria_label=mark.label,
        ),
        content=mark.label,
    )


def timeline() -> rx.Component:
    s = TaskRunState
    return rx.card(
        rx.text("Timeline", size="2", weight="bold"),
        rx.box(
            rx.box(position="absolute", left="0", right="0", top="10px", height="2px", background=rx.color("gray", 6)),
            rx.foreach(s.marks, _mark),
            position="relative",
            height="24px",
            margin="0.5em 8px",
            id="timeline",
        ),
        rx.flex(
            rx.text("created ", local_time(s.created, with_date=False), size="1", color_scheme="gray"),
            rx.spacer(),
            rx.text("+", s.timeline_span, size="1", color_scheme="gray", id="timeline-span"),
            width="100%",
        ),
        rx.flex(
            rx.foreach(
                s.marks,
                lambda m: rx.cond(
                    (m.kind != "log") & (m.kind != "status"),
                    rx.badge(m.label, color_scheme=m.color, variant="surface", size="1"),
                ),
            ),
            wrap="wrap",
            spacing="1",
        ),
        width="100%",
    )


def _log_line(line: LogLine) -> rx.Component:
    return rx.flex(
        rx.moment(line.time, format="HH:mm:ss.SSS", class_name="log-time", color="var(--gray-11)", font_size="12px"),
        rx.badge(line.level, color_scheme=line.color, size="1", min_width="5.5em", justify="center"),
        rx.text(line.message, size="1", white_space="pre-wrap", word_break="break-word"),
        spacing="2",
        align="start",
        class_name="log-line",
        data_level=line.level,
    )


def logs() -> rx.Component:
    s = TaskRunState
    return rx.card(
        rx.flex(
            rx.text("Logs", size="2", weight="bold"),
            rx.select.root(
                rx.select.trigger(aria_label="log level", id="log-level"),
                rx.select.content(
                    rx.select.item("Level: all", value="all"),
                    *[rx.select.item(level, value=level) for level in LOG_COLORS],
                ),
                value=s.log_level,
                on_change=s.set_log_level,
            ),
            rx.input(
                placeholder="filter lines",
                value=s.log_search,
                on_change=s.set_log_search,
                id="log-search",
                aria_label="filter log lines",
            ),
            rx.hstack(
                rx.switch(checked=s.follow, on_change=s.set_follow, id="log-follow", aria_label="follow new lines"),
                rx.text("follow", size="1"),
            ),
            rx.text(s.log_counts, size="1", color_scheme="gray"),
            wrap="wrap",
            spacing="3",
            align="center",
        ),
        rx.box(
            rx.cond(
                s.logs.length() > 0,
                rx.vstack(rx.foreach(s.shown_logs, _log_line), spacing="1", width="100%"),
                rx.text("No log lines yet.", size="2", color_scheme="gray"),
            ),
            id="run-logs",
            max_height="24em",
            overflow_y="auto",
            width="100%",
            padding_top="0.5em",
        ),
        width="100%",
    )


def _artifact(artifact: ArtifactLink) -> rx.Component:
    return rx.hstack(
        rx.icon("file-down", size=14, aria_hidden="true"),
        # a document request (not the router's navigation), so the browser downloads it
        rx.link(
            artifact.name, href=artifact.url, reload_document=True, download=artifact.name, class_name="artifact-link"
        ),
        rx.text(artifact.mime, " · ", artifact.size, size="1", color_scheme="gray"),
        align="center",
        wrap="wrap",
    )


def _custom(event: CustomEvent) -> rx.Component:
    return rx.hstack(
        rx.moment(event.time, format="HH:mm:ss", font_size="12px"),
        rx.badge(event.type, color_scheme="violet", size="1"),
        rx.code(event.data, size="1", white_space="pre-wrap", word_break="break-all"),
        align="start",
        class_name="custom-event",
    )


def details() -> rx.Component:
    s = TaskRunState
    return rx.grid(
        rx.card(
            rx.text("Arguments", size="2", weight="bold"),
            rx.cond(
                s.args_long,
                rx.el.details(
                    rx.el.summary("show the arguments"), rx.code_block(s.args, language="json", wrap_long_lines=True)
                ),
                rx.code_block(s.args, language="json", wrap_long_lines=True),
            ),
            id="run-args",
        ),
        rx.card(
            rx.cond(
                s.error != "",
                rx.callout(s.error, icon="triangle-alert", color_scheme="red", id="run-error"),
                rx.cond(
                    s.result != "",
                    rx.vstack(
                        rx.text("Result", size="2", weight="bold"),
                        rx.code_block(s.result, language="json", wrap_long_lines=True),
                        id="run-result",
                        width="100%",
                    ),
                    rx.text("No result yet.", size="2", color_scheme="gray"),
                ),
            ),
        ),
        rx.cond(
            s.artifacts.length() > 0,
            rx.card(
                rx.text("Artifacts", size="2", weight="bold"),
                rx.vstack(rx.foreach(s.artifacts, _artifact), spacing="1"),
                id="run-artifacts",
            ),
        ),
        rx.cond(
            s.custom_events.length() > 0,
            rx.card(
                rx.text("Events", size="2", weight="bold"),
                rx.vstack(rx.foreach(s.custom_events, _custom), spacing="1"),
                id="run-events",
            ),
        ),
        rx.cond(
            s.messages.length() > 0,
            rx.card(
                rx.text("Messages sent", size="2", weight="bold"),
                rx.vstack(rx.foreach(s.messages, lambda m: rx.code(m)), spacing="1"),
            ),
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )


def actions() -> rx.Component:
    s = TaskRunState
    return rx.fragment(
        rx.flex(
            rx.cond(
                s.running,
                rx.fragment(
                    rx.form(
                        rx.hstack(
                            rx.input(
                                placeholder='{"action": "skip"}',
                                value=s.message_draft,
                                on_change=s.set_message_draft,
                                aria_label="message to the task",
                                id="run-message-draft",
                            ),
                            rx.button("Send message", type="submit", variant="soft", id="run-send"),
                        ),
                        on_submit=lambda _: s.send_message(),
                    ),
                    rx.button("Cancel", on_click=s.ask("cancel"), color_scheme="orange", id="run-cancel"),
                ),
                rx.fragment(
                    rx.button(
                        "Re-run",
                        on_click=s.rerun,
                        id="run-rerun",
                        aria_label="start this task again with the same arguments",
                    ),
                    rx.button(
                        "Ack",
                        on_click=s.ask("ack"),
                        variant="soft",
                        id="run-ack",
                        aria_label="result delivered: remove the task",
                    ),
                ),
            ),
            rx.button("Delete", on_click=s.ask("delete"), color_scheme="red", variant="soft", id="run-delete"),
            wrap="wrap",
            spacing="3",
            align="center",
        ),
        confirm_dialog(
            title="Are you sure?",
            question=rx.match(
                s.confirm,
                ("cancel", "Cancel this task? It stops at its next await (forced after a grace period)."),
                ("ack", "Acknowledge the result and remove the task?"),
                "Delete this task with its logs and artifacts? This cannot be undone.",
            ),
            is_open=s.confirm != "",
            on_open_change=s.confirm_open_changed,
            on_keep=s.dismiss,
            on_yes=s.confirmed,
            keep_label="Keep it",
            yes_label="Yes",
            yes_id="run-confirm",
        ),
    )


def run_view() -> rx.Component:
    s = TaskRunState
    return rx.cond(
        s.found,
        rx.vstack(
            header(),
            actions(),
            timeline(),
            logs(),
            details(),
            rx.script(ESC_CLOSES),
            spacing="4",
            width="100%",
            id="run-view",
        ),
        notice(
            "search-x",
            "orange",
            "No such task (it may have been deleted or purged). ",
            rx.link("Back to the tasks", href="/admins/tasks/"),
            id="run-missing",
        ),
    )
