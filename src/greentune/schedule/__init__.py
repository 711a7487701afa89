"""greentune.schedule — see docs/DESIGN.md."""
