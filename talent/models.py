"""Differentiation: 9-box, talent pools, succession, talent decisions."""
