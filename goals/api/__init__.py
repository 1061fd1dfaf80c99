"""The goals REST API under /api/v1/: goals (with their workflow actions) and check-ins.

Reads start from ``perfcycle.access.goals_visible_to``; writes go through
``goals.services``, which check access and the business rules. The routes are registered
in ``perfcycle.api.urls``.
"""
