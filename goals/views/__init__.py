"""The goal pages."""
