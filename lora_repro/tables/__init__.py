"""Table specs, seed aggregation and rendering of reproduced tables (Markdown, CSV, LaTeX)."""

from lora_repro.tables.spec import Column, Row, TableSpec, load_spec, parse_spec

__all__ = ["Column", "Row", "TableSpec", "load_spec", "parse_spec"]
