"""Server-rendered pages of the core app, one module per area."""
