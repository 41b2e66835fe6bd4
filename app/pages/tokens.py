"""/admins/tokens/: client tokens: create (the secret shown once, with ready
curl and wscat lines for this server), copy, revoke, expiry."""

from __future__ import annotations

import reflex as rx

from app.components.status import local_time, time_zone_note
from app.layout import admin_page
from states.token_admin import TokenAdminState, TokenRow


def _row(row: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.id), data_label="Id"),
        rx.table.cell(row.client, data_label="Client"),
        rx.table.cell(
            rx.badge(
                rx.cond(row.status == "active", rx.icon("circle-check", size=12), rx.icon("ban", size=12)),
                row.status,
                color_scheme=rx.cond(row.status == "active", "green", "gray"),
            ),
            data_label="State",
        ),
        rx.table.cell(local_time(row.created), data_label="Created"),
        rx.table.cell(
            rx.cond(row.expires != "", local_time(row.expires), rx.text("never", as_="span")), data_label="Expires"
        ),
        rx.table.cell(
            rx.cond(row.last_used != "", local_time(row.last_used), rx.text("never", as_="span")),
            data_label="Last used",
        ),
        rx.table.cell(
            rx.cond(
                row.status == "active",
                rx.button(
                    "Revoke",
                    on_click=TokenAdminState.revoke(row.id),
                    color_scheme="red",
                    variant="soft",
                    size="1",
                    class_name="revoke",
                    aria_label="revoke token " + row.id + " of " + row.client,
                ),
            ),
            data_label="",
        ),
        class_name="token-row",
        data_client=row.client,
        data_status=row.status,
    )


def _snippet(text: rx.Var[str], element_id: str) -> rx.Component:
    return rx.box(
        rx.code(text, id=element_id, white_space="pre-wrap", word_break="break-all", size="1"),
        padding="0.5em",
        border_radius="var(--radius-2)",
        background=rx.color("gray", 3),
        width="100%",
        max_width="100%",
    )


def _new_token() -> rx.Component:
    s = TokenAdminState
    return rx.callout.root(
        rx.vstack(
            rx.text("Token for ", rx.code(s.new_client), ". It is shown once: copy it now."),
            rx.flex(
                rx.code(s.new_token, id="new-token", word_break="break-all"),
                rx.button(
                    rx.icon("copy", size=14),
                    "Copy",
                    on_click=[rx.set_clipboard(s.new_token), rx.toast.success("Token copied to the clipboard")],
                    size="1",
                    id="copy-token",
                    aria_label="copy the token",
                ),
                rx.button("Done", on_click=s.dismiss, size="1", variant="soft"),
                wrap="wrap",
                spacing="2",
                align="center",
            ),
            rx.text("Start a task with it, and watch its client's tasks:", size="2"),
            _snippet(s.curl_line, "curl-line"),
            _snippet(s.wscat_line, "wscat-line"),
            width="100%",
        ),
        color_scheme="green",
        width="100%",
        id="new-token-box",
    )


@admin_page("/admins/tokens/", "Client tokens", on_load=[TokenAdminState.load])
def tokens() -> rx.Component:
    s = TokenAdminState
    return rx.vstack(
        rx.flex(
            rx.heading("Client tokens", size="6"), rx.spacer(), time_zone_note(), wrap="wrap", spacing="3", width="100%"
        ),
        rx.form(
            rx.flex(
                rx.vstack(
                    rx.text("Client name", size="1", weight="medium", as_="label"),
                    rx.input(name="client", placeholder="e.g. billing-bot", id="token-client", required=True),
                    spacing="1",
                ),
                rx.vstack(
                    rx.text("Expires in days (empty: never)", size="1", weight="medium", as_="label"),
                    rx.input(name="days", placeholder="30", id="token-days", type="number", step="any"),
                    spacing="1",
                ),
                rx.button("Create token", type="submit", id="create-token", align_self="end"),
                wrap="wrap",
                spacing="3",
            ),
            on_submit=s.create,
            reset_on_submit=True,
        ),
        rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", icon="triangle-alert", id="token-error")),
        rx.cond(s.new_token != "", _new_token()),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ["Id", "Client", "State", "Created", "Expires", "Last used", ""]
                    ]
                )
            ),
            rx.table.body(rx.foreach(s.tokens, _row)),
            width="100%",
            size="1",
            id="token-table",
            class_name="card-table",
        ),
        spacing="4",
        width="100%",
    )
