"""Stateless dashboard components: plain arguments in, a component out."""
