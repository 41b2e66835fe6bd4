"""Reflex states. Every module or package here is a route name for its tasks."""
