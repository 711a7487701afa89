"""greentune.serve — see docs/DESIGN.md."""
