"""Coaching notes, feedback interviews, improvement plans, process improvement."""
