"""Appraisals, scoring, department results and calibration (appraisals issue)."""
