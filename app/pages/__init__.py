"""Reflex pages; each module registers its routes with `@rx.page`."""
