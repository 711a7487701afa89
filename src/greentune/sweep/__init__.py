"""greentune.sweep — see docs/DESIGN.md."""
