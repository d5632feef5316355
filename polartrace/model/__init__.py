"""Traces, spans and assessments as frozen values, and their JSON."""
