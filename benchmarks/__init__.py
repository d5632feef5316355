"""Benchmarks: is polartrace the fastest way to search traces?

Run ``python -m benchmarks --traces 100000`` (see ``benchmarks/__main__.py`` for every
option). Data comes from :mod:`polartrace.generate` and is cached under
``benchmarks/data/`` (gitignored); results are printed as a table and written as JSON.

Modules:

``data``
    Generated JSONL per size, and a cached polartrace Parquet dataset of its frame.
``queries``
    The filters, each with its hand-written Polars query and its DuckDB SQL.
``timing``
    Medians of repeated runs, and peak memory of a build in a fresh process.
``engines``
    The contenders: polartrace (cold and warm), hand-written Polars, the reference
    evaluator, DuckDB and MLflow's own SQLite store.
``run``
    One run: every contender on every filter at every size, ratios from that run.
``report``
    The table and the JSON file.
``import_time``
    ``python -m benchmarks.import_time``: ``import polartrace`` against ``import
    polars`` and ``polartrace --help``, in fresh processes (needs no extra).
"""
