"""Executors of a bound filter: Polars, lazy (scanned Parquet), reference."""
