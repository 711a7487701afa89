"""greentune.report — see docs/DESIGN.md."""
