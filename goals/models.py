"""Company objectives, department goals, position KPIs and personal goals (goals issue)."""
