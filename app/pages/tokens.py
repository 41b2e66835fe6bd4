"""/admins/tokens/: client tokens: create (shown once), revoke, expiry."""

from __future__ import annotations

import reflex as rx

from app.layout import admin_page
from states.token_admin import TokenAdminState, TokenRow


def _row(row: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.id)),
        rx.table.cell(row.client),
        rx.table.cell(rx.badge(row.state, color_scheme=rx.cond(row.state == "active", "green", "gray"))),
        rx.table.cell(row.created),
        rx.table.cell(row.expires),
        rx.table.cell(row.last_used),
        rx.table.cell(
            rx.cond(
                row.state == "active",
                rx.button("Revoke", on_click=TokenAdminState.revoke(row.id), color_scheme="red", variant="soft", size="1", class_name="revoke"),
            )
        ),
        class_name="token-row",
        data_client=row.client,
        data_state=row.state,
    )


def _new_token() -> rx.Component:
    return rx.callout.root(
        rx.vstack(
            rx.text("Token for ", rx.code(TokenAdminState.new_client), ". It is shown once: copy it now."),
            rx.hstack(
                rx.code(TokenAdminState.new_token, id="new-token"),
                rx.button("Copy", on_click=rx.set_clipboard(TokenAdminState.new_token), size="1"),
                rx.button("Done", on_click=TokenAdminState.dismiss, size="1", variant="soft"),
            ),
            rx.code_block(TokenAdminState.curl_line, language="bash", width="100%"),
            rx.code_block(TokenAdminState.wscat_line, language="bash", width="100%"),
            width="100%",
        ),
        color_scheme="green",
        width="100%",
    )


@admin_page("/admins/tokens/", "Client tokens", on_load=[TokenAdminState.load])
def tokens() -> rx.Component:
    return rx.vstack(
        rx.heading("Client tokens", size="6"),
        rx.form(
            rx.hstack(
                rx.input(name="client", placeholder="client name", id="token-client", required=True),
                rx.input(name="days", placeholder="expires in days (optional)", id="token-days"),
                rx.button("Create token", type="submit", id="create-token"),
            ),
            on_submit=TokenAdminState.create,
            reset_on_submit=True,
        ),
        rx.cond(TokenAdminState.error != "", rx.callout(TokenAdminState.error, color_scheme="red", id="token-error")),
        rx.cond(TokenAdminState.new_token != "", _new_token()),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ["Id", "Client", "State", "Created", "Expires", "Last used", ""]])
            ),
            rx.table.body(rx.foreach(TokenAdminState.tokens, _row)),
            width="100%",
            id="token-table",
        ),
        spacing="4",
        width="100%",
    )
