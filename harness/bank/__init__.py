"""Baselines as data: reuse of finished runs, and the bank file that carries them (docs/bank.md)."""

from harness.bank.exchange import ExportResult, ImportResult, export_bank, import_bank
from harness.bank.format import SCHEMA_VERSION, BankError, read_bank
from harness.bank.reuse import reuse_runs

__all__ = ["BankError", "ExportResult", "ImportResult", "SCHEMA_VERSION", "export_bank", "import_bank",
           "read_bank", "reuse_runs"]
