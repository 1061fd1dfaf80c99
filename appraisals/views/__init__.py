"""The appraisal pages."""
