"""Batch-issue files (CSV, JSON lines) read into issue requests, every bad row reported."""
